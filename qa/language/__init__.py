"""Language: words and meanings shared by documents and questions."""
