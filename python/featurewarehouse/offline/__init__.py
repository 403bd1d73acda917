"""The offline side: warehouse connections, Arrow batch streaming, historical retrieval."""
