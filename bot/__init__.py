"""Front ends: the `shuzi` command line and the Telegram bot. The only layer that reads
configuration and wires the engine together."""
