"""Every sentence a person reads, by reader: people (people.py), group admins
(group_admins.py, admin_reports.py) and the operator (operators.py); sizes and times in
words (units.py), a result as text (summary.py). One gettext domain: bot/i18n.py and the
catalogs in bot/locales/; a new sentence goes in the module of whoever reads it, with its
translations at the end of each .po file."""
