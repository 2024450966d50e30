"""Cited answers from ranked passages: the sentence, the exact span, figures, abstention."""
