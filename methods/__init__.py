"""Semantic-ID generative methods: one file per method, each implementing the Recommender interface."""
