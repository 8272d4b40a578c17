"""ORM mapping, repository, and the HTTP client of the card gateway."""
