"""Reports and exports: evidence, charts, documents, and vector files for GIS tools."""
