"""The recognition API: its errors and answers, the client that retries, the adaptive limit."""
