"""One model's request pipeline (decode → predict → encode), the user's hooks, and what makes it fast."""
