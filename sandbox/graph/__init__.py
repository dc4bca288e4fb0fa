"""`python -m sandbox graph`: a workflow's synthesized definition as a Mermaid diagram (text, HTML page,
a block in a markdown file), optionally coloured with the path one run took."""
