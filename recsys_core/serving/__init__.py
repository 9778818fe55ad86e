"""Serving recommendations: candidate generation (:mod:`.candidates`), the learned ranker of the
candidates (:mod:`.ranker`), re-ranking rules (:mod:`.rerank`) and the pipeline joining them
(:mod:`.pipeline`)."""
