"""Model files shipped as package data (see NOTICE.md here for origin and licence)."""
