"""What the user verbs of ``nasrl`` do beyond parsing: resolve an architecture argument, size a
network from a config or a search, summarise a search (``nasrl show``)."""
