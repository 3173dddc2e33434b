"""citebot front ends: the command line, the Telegram bot, and answer rendering."""
