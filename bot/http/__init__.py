"""HTTP clients the bot shares: which one a request goes through, TLS, and the one bounded
read every response body goes through."""
