"""The ``tsukuba-gis`` command line, one module per subcommand group."""
