"""Generated run names: `adjective-noun-N`, N unique in the project."""

from __future__ import annotations

import random

ADJECTIVES = (
    "amber autumn bold brave bright calm clever cosmic crisp dainty dark dashing deep eager earnest "
    "fancy fast fiery floral fluent fresh gentle giddy glad golden grand happy hardy honest humble icy "
    "jolly keen kind lively lucky lunar magic mellow misty modest noble odd olive proud quick quiet "
    "rapid rare restful rich rosy royal rustic sandy scarlet serene sharp shiny silent silver sleek "
    "smart snowy solar spry stellar still stoic sunny swift tender tidy twilight vague vibrant vivid "
    "warm wild winter wise witty young zesty"
).split()
NOUNS = (
    "bird breeze brook bush butterfly cherry cloud darkness dawn dew disco dream dust feather field "
    "fire firefly flower fog forest frog frost glade glitter grass haze hill lake leaf meadow moon "
    "morning mountain night paper pine planet plasma pond rain resonance river sea shadow shape sky "
    "smoke snow snowflake sound spaceship spark star sun sunset surf terrain thunder tree universe "
    "valley violet voice water waterfall wave wildflower wind wood"
).split()


def generate_name(number: int, rng: random.Random | None = None) -> str:
    r = rng or random
    return f"{r.choice(ADJECTIVES)}-{r.choice(NOUNS)}-{number}"
