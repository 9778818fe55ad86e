"""Neural retrieval models: layers, losses and optimizers (:mod:`.layers`), negative sampling
(:mod:`.sampling`), the query tower both models share (:mod:`.query_tower`), the softmax model
(:mod:`.softmax`) and the two-tower model (:mod:`.two_tower`)."""
