"""The ``fwctl`` command line: thin edges over the library."""
