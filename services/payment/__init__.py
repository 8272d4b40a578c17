"""Warren payment service: accepts checkouts, joins the fraud and stock outcomes, charges the card."""
