"""Types with engine-specific handling: files, directories, structured datasets, errors."""
