"""Finding the items closest to a query: similarity measures (:mod:`.similarity`), exact top-k
(:mod:`.topk`) and approximate nearest-neighbour indexes (:mod:`.ann`)."""
