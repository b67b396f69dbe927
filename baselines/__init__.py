"""ID-based baselines: popularity (the one-file example of a method), SASRec and BERT4Rec."""
