"""Neural retrieval models: layers, losses and optimizers (:mod:`.layers`), the softmax model
(:mod:`.softmax`, with the query-tower base) and the two-tower model (:mod:`.two_tower`)."""
