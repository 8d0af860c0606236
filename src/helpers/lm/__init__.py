"""Language models: corpus, tokens, the model family (shapes, names, parameter counts, HookedTransformer),
the training module and loop, data-parallel training."""
