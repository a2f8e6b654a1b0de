"""Runtime state kept in this process or shared through Redis, chosen by the composition root."""
