"""Operations on the stored state, shared by the admin API and the demo. Each takes a
Session, validates references, and bumps the state revision so every instance reloads."""
