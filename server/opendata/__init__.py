"""Open data on the public side: the /opendata page, the DCAT catalog and the download files
(``routes``), from the public snapshot and the manifests the ETL wrote (``tsukuba_gis.opendata``)."""
