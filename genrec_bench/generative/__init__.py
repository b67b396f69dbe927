"""The semantic-ID pipeline shared by TIGER, LETTER, ETEGRec, FlexCode and GenCDR:
item embeddings -> tokenizer -> semantic-ID artifact -> seq2seq generator -> trie beam search."""
