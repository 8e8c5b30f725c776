"""The API wire: read a request, verify its signature, run the pipeline (with group commit), render the answer."""
