"""Running a service: components started in order, stopped in reverse on SIGTERM/SIGINT, health routes."""
