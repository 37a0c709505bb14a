"""Paper figures and tables from stored sweep results (``semcom-sim figures`` / ``tables``)."""
