"""Local mail sink: an SMTP server (aiosmtpd) that keeps each message on disk and lists them over HTTP."""
