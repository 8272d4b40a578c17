"""Where connections are built: the HTTP app, message consumers, the charge sweeper and main()."""
