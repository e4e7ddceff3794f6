"""Ordinary answers a guardrail must let through (see make_guardrail_corpus.py).

Each case is ``(kind, text)``. Written as a model would answer ordinary requests, before the
rules were tuned against them; many sit close to a pattern (templates, chat formats, "as
an AI researcher", refusals quoted in documentation) because that is where precision fails.
"""

from __future__ import annotations

FENCE = "```"

ORDINARY: list[tuple[str, str]] = [
    # Support replies.
    ("support", "Thanks for reaching out! Your refund was issued today and should appear on "
                "your card within 5-7 business days."),
    ("support", "I checked your account: the invoice from March was charged twice. I have "
                "reversed the duplicate charge of $49.00."),
    ("support", "To reset your password, open Settings > Security and choose Reset password. "
                "A link will arrive by email within a few minutes."),
    ("support", "Your order #48213 shipped yesterday with UPS. The tracking number is "
                "1Z999AA10123456784."),
    ("support", "Sorry for the trouble. The outage on our side ended at 14:20 UTC, and your "
                "data was not affected."),
    ("support", "You can change the billing email under Account > Billing. Only owners can "
                "edit it, so ask Maria if the field is greyed out."),
    ("support", "Hi Tom,\n\nThe export finished; you can download it from the Reports page. "
                "Let me know if anything looks off.\n\nBest,\nPriya"),
    ("support", "We cannot change the plan on an invoice that is already paid, but the next "
                "invoice will use the Team plan."),
    ("support", "The API returns 429 when you exceed 60 requests per minute. Add a retry with "
                "backoff and the errors should stop."),
    ("support", "Dear Ms. Okafor,\n\nThank you for your patience. Your replacement device "
                "ships on Monday.\n\nKind regards,\nDaniel Reyes\nCustomer Care"),
    ("support", "Good news: the bug you reported is fixed in version 4.2.1, released this "
                "morning."),
    ("support", "I'm afraid the coupon expired on May 31, but I've added a 10% credit to your "
                "account instead."),
    ("support", "Unfortunately we don't ship to PO boxes. Could you give a street address?"),
    ("support", "The form shows [Your Name] as a hint until you type in the field; it is not "
                "sent with the request."),
    ("support", "In the signup form the placeholder text reads [your email], which disappears "
                "as soon as you start typing."),
    # Code and docs about templates.
    ("templates", "Use {{ user.name }} in the Jinja template to print the user's name."),
    ("templates", "In Go templates, {{.Title}} prints the Title field of the data you pass "
                  "to Execute."),
    ("templates", "Handlebars escapes HTML in {{body}}; use {{{body}}} when the value is "
                  "trusted markup."),
    ("templates", "With Mustache, {{#items}}...{{/items}} loops over a list and {{name}} "
                  "reads a field of each item."),
    ("templates", "Django templates use {{ variable }} for output and {% tag %} for logic, "
                  "for example {% if user.is_staff %}."),
    ("templates", f"Here is a Jinja example:\n\n{FENCE}jinja\n<h1>{{{{ page.title }}}}</h1>\n"
                  f"{{% for post in posts %}}\n  <p>{{{{ post.summary }}}}</p>\n"
                  f"{{% endfor %}}\n{FENCE}"),
    ("templates", "Vue interpolates data with the mustache syntax, so {{ message }} in the "
                  "template shows the message property."),
    ("templates", "Angular's {{ price | currency }} pipes the price through the currency "
                  "filter."),
    ("templates", "The Helm chart reads `{{ .Values.image.tag }}` from values.yaml."),
    ("templates", f"{FENCE}yaml\nimage: \"{{{{ .Values.image.repository }}}}:{{{{ "
                  f".Values.image.tag }}}}\"\n{FENCE}\nThe quotes keep YAML from parsing "
                  f"the braces."),
    ("templates", "Liquid filters chain: {{ title | upcase | truncate: 20 }}."),
    ("templates", "In Ansible, write \"{{ inventory_hostname }}\" with quotes when the value "
                  "starts the line."),
    ("templates", "String.Format in C# uses {0} and {1} as positional placeholders, and "
                  "Python's str.format uses {} in the same way."),
    ("templates", "The email template has two variables, {{first_name}} and {{plan}}, that "
                  "the mailer fills in at send time."),
    ("templates", "To escape braces in a Jinja template, wrap them: {{ '{{' }} prints two "
                  "opening braces."),
    ("templates", "A prompt template like `Summarize: {text}` is formatted with "
                  "`template.format(text=article)`."),
    ("templates", "LangChain's PromptTemplate treats {question} as an input variable."),
    ("templates", f"{FENCE}html\n<input placeholder=\"[Your Name]\" name=\"name\">\n{FENCE}"),
    ("templates", "Placeholders such as [Your Name] or <your email> are common in form "
                  "mockups; replace them before launch."),
    ("templates", "The README says to copy .env.example and replace <your-api-key> with the "
                  "key from the dashboard."),
    # Prompts and chat formats.
    ("chat_formats", "Keep the <|im_start|> tokens out of user input, or a user can forge a "
                     "system turn."),
    ("chat_formats", "ChatML wraps each turn in `<|im_start|>` and `<|im_end|>`; the role "
                     "name follows the opening token."),
    ("chat_formats", f"A Llama 2 prompt looks like this:\n\n{FENCE}\n<s>[INST] <<SYS>>\nYou "
                     f"are helpful.\n<</SYS>>\n\nHello [/INST]\n{FENCE}"),
    ("chat_formats", "Llama 3 ends each turn with the \"<|eot_id|>\" token, so stop "
                     "generation on it."),
    ("chat_formats", f"{FENCE}python\nprompt = f\"<|im_start|>user\\n{{question}}"
                     f"<|im_end|>\\n<|im_start|>assistant\\n\"\n{FENCE}"),
    ("chat_formats", "Mistral's instruct format puts the user message between [INST] and "
                     "[/INST] markers."),
    ("chat_formats", "Strip the `<|endoftext|>` token from the completion before you show it."),
    ("chat_formats", "Tokenizers add special tokens such as <|begin_of_text|> automatically; "
                     "do not add them twice."),
    ("chat_formats", "The system prompt should say who the assistant is and what it may not "
                     "do, in plain sentences."),
    ("chat_formats", "Few-shot prompts work better when the examples have the same format as "
                     "the answer you want."),
    ("chat_formats", "If the delimiter \"[/INST]\" appears in a user message, escape it before "
                     "building the prompt."),
    # Maths with dollar signs.
    ("maths", "The area is $A = \\pi r^2$, so for $r = 3$ it is about $28.27$."),
    ("maths", "Solve $2x + 5 = 17$: subtract 5 to get $2x = 12$, then $x = 6$."),
    ("maths", "$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$"),
    ("maths", "The plan costs $12 a month or $120 a year, which saves $24."),
    ("maths", "The derivative of $f(x) = e^{2x}$ is $f'(x) = 2e^{2x}$."),
    ("maths", "By the quadratic formula, $x = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}$."),
    ("maths", "Expected value: $E[X] = \\sum_i x_i p_i = 0.5 \\cdot 10 + 0.5 \\cdot 0 = 5$."),
    ("maths", "A 7% return on $1,000 for 10 years gives about $1,967 with yearly "
              "compounding."),
    ("maths", "The matrix $\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}$ has "
              "determinant $-2$."),
    ("maths", "15% of 80 is 12, and 80 + 12 = 92."),
    # Markdown tables.
    ("tables", "| Plan | Price | Seats |\n|------|-------|-------|\n| Free | $0 | 1 |\n"
               "| Team | $20 | 10 |"),
    ("tables", "Here is the comparison:\n\n| Language | Typing | GC |\n|---|---|---|\n"
               "| Go | static | yes |\n| Rust | static | no |\n| Python | dynamic | yes |"),
    ("tables", "| Field | Meaning |\n|---|---|\n| `{{name}}` | the user's name |\n"
               "| `{{plan}}` | the plan name |"),
    ("tables", "| Token | Model family |\n|---|---|\n| `<|im_start|>` | ChatML (Qwen) |\n"
               "| `[INST]` | Llama 2, Mistral |"),
    ("tables", "| Month | Revenue |\n| :--- | ---: |\n| Jan | $10,400 |\n| Feb | $11,950 |"),
    # JSON in prose.
    ("json_in_prose", "Send the body as JSON: {\"email\": \"a@b.com\", \"plan\": \"team\"}."),
    ("json_in_prose", f"The response looks like this:\n\n{FENCE}json\n{{\"id\": 42, "
                      f"\"status\": \"active\"}}\n{FENCE}"),
    ("json_in_prose", "An empty object {} and an empty array [] are both valid JSON values."),
    ("json_in_prose", "Set \"retries\": 3 in config.json and restart the worker."),
    ("json_in_prose", "{\"name\": \"Ada\", \"age\": 36, \"languages\": [\"en\", \"fr\"]}"),
    ("json_in_prose", "[{\"id\": 1, \"done\": false}, {\"id\": 2, \"done\": true}]"),
    ("json_in_prose", "Use a JSON Pointer such as /items/0/name to reach the first item's "
                      "name."),
    ("json_in_prose", "In Python, json.loads('{\"a\": 1}') returns the dict {'a': 1}."),
    # Hedged but fine answers.
    ("hedged", "I'm not completely sure, but the error usually means the port is already in "
               "use. Try `lsof -i :8080` to find the process."),
    ("hedged", "It depends on your traffic; for most small apps a single Postgres instance "
               "is enough."),
    ("hedged", "I can't be certain without the logs, but a timeout of 30 seconds is the "
               "likely cause."),
    ("hedged", "I cannot give medical advice, but a fever above 39 °C that lasts more than "
               "three days is worth a doctor's visit."),
    ("hedged", "I can't access your repository, but the stack trace points to a missing "
               "environment variable: DATABASE_URL."),
    ("hedged", "I don't have the exact figure, but the 2023 report put the market at around "
               "$4 billion."),
    ("hedged", "Probably not: SQLite allows one writer at a time, so heavy concurrent writes "
               "will queue."),
    ("hedged", "As far as I know, Python 3.13 removed the dead batteries such as cgi and "
               "telnetlib."),
    ("hedged", "Sure! The capital of Australia is Canberra, not Sydney."),
    ("hedged", "Certainly. A mutex protects shared state so that only one thread changes it "
               "at a time."),
    ("hedged", "Great question. The tides come mostly from the Moon's gravity, with the Sun "
               "adding about a third as much."),
    ("hedged", "Of course: `git rebase -i HEAD~3` lets you squash the last three commits."),
    ("hedged", "I won't guess the exact version, but anything after 2.0 supports async "
               "sessions."),
    # Lookalikes of meta commentary.
    ("meta_lookalike", "As an AI researcher once said, the hard part is not the model but "
                       "the data."),
    ("meta_lookalike", "As a language model trainer, you spend most of your time cleaning "
                       "data."),
    ("meta_lookalike", "As AI systems improve, code review matters more, not less."),
    ("meta_lookalike", "As an AI ethics board member, she argued for audits before launch."),
    ("meta_lookalike", "The chatbot replied \"As an AI language model, I cannot do that\", "
                       "which is why we added a retry."),
    ("meta_lookalike", "My training data for the classifier came from 2,000 labelled support "
                       "tickets."),
    ("meta_lookalike", "Large language models are trained on public text and licensed data."),
    ("meta_lookalike", "As a large language model grows, its memory footprint grows too."),
    ("meta_lookalike", "Ask the model whether it is an AI assistant; most will say so "
                       "plainly."),
    ("meta_lookalike", "The knowledge cutoff of a model is the date after which it has not "
                       "seen data."),
    # Lookalikes of refusals.
    ("refusal_lookalike", "A refusal such as \"I can't help with that\" should be retried "
                          "with a clearer prompt."),
    ("refusal_lookalike", "If the assistant says I cannot comply, log the prompt for review."),
    ("refusal_lookalike", "I can't recommend that library anymore: it has not been updated "
                          "since 2019. Use httpx instead."),
    ("refusal_lookalike", "I cannot stress this enough: back up the database before the "
                          "migration."),
    ("refusal_lookalike", "I can't help noticing that the loop never frees the buffer; add "
                          "`free(buf)` after use."),
    ("refusal_lookalike", "The function raises PermissionError when it cannot write to the "
                          "directory."),
    # Code answers.
    ("code", f"{FENCE}python\ndef mean(xs):\n    return sum(xs) / len(xs)\n{FENCE}"),
    ("code", f"Run this:\n\n{FENCE}bash\npip install httpx\n{FENCE}\n\nThen import it."),
    ("code", f"{FENCE}js\nconst greet = (name) => `Hello, ${{name}}!`;\n{FENCE}"),
    ("code", f"{FENCE}python\nassert \"As an AI language model\" not in reply\n{FENCE}"),
    ("code", f"{FENCE}python\nTEMPLATE = \"Dear [INSERT NAME HERE],\"\nprint(TEMPLATE."
             f"replace(\"[INSERT NAME HERE]\", name))\n{FENCE}"),
    ("code", "Use `[TODO]` markers in comments, and grep for them before a release."),
    ("code", f"{FENCE}sql\nSELECT name, COUNT(*) FROM orders GROUP BY name HAVING COUNT(*) > 5;"
             f"\n{FENCE}"),
    ("code", f"{FENCE}go\nfmt.Printf(\"%s has %d items\\n\", name, len(items))\n{FENCE}"),
    ("code", "The regex `\\[(\\w+)\\]` captures the word inside square brackets."),
    ("code", f"{FENCE}rust\nlet v: Vec<i32> = (1..=3).collect();\n{FENCE}"),
    ("code", "~~~python\nprint(\"{{ not a template }}\")\n~~~"),
    ("code", "In a shell script, \"$HOME\" expands to your home directory and '$HOME' "
             "does not."),
    ("code", f"{FENCE}yaml\nsteps:\n  - run: echo \"${{{{ secrets.TOKEN }}}}\"\n{FENCE}"),
    ("code", f"Inline code like `<|im_end|>` is safe, and so is a fence:\n{FENCE}\n"
             f"<|im_end|>\n{FENCE}"),
    # Emails and letters, filled in.
    ("letters", "Dear Mr. Chen,\n\nThank you for interviewing with us on Tuesday. We would "
                "like to offer you the position of Data Engineer.\n\nSincerely,\nLaura Vega"),
    ("letters", "Hi team,\n\nThe release moves to Thursday because of the database "
                "migration.\n\nThanks,\nSam"),
    ("letters", "Subject: Your subscription renews on June 3\n\nHello Aiko, your Pro plan "
                "renews on June 3 for $96."),
    ("letters", "To whom it may concern,\n\nI recommend Jordan Blake for the analyst role; "
                "Jordan led our pricing study in 2024.\n\nRegards,\nDr. Ellen Park"),
    # General knowledge and explanations.
    ("general", "Photosynthesis turns light, water and carbon dioxide into glucose and "
                "oxygen."),
    ("general", "The French Revolution began in 1789 with the storming of the Bastille."),
    ("general", "A hash map gives average O(1) lookups by turning keys into array indexes."),
    ("general", "TCP guarantees ordered delivery; UDP does not, which makes it cheaper for "
                "games and voice."),
    ("general", "Mount Everest is 8,849 metres tall according to the 2020 survey."),
    ("general", "Espresso has more caffeine per millilitre than drip coffee, but a cup of "
                "drip usually has more in total."),
    ("general", "The Treaty of Westphalia (1648) ended the Thirty Years' War."),
    ("general", "Use a password manager and unique passwords; reuse is the most common way "
                "accounts are taken over."),
    ("general", "Rainbows form when sunlight is refracted, reflected and dispersed in "
                "raindrops."),
    ("general", "In chess, castling moves the king two squares toward a rook and the rook "
                "jumps over it."),
    ("general", "Kubernetes restarts a container whose liveness probe fails, and removes a "
                "pod from service when its readiness probe fails."),
    ("general", "The Pythagorean theorem says a^2 + b^2 = c^2 for a right triangle."),
    ("general", "An index on (user_id, created_at) serves queries that filter by user and "
                "sort by date."),
    ("general", "Bread rises because yeast produces carbon dioxide that the gluten traps."),
    ("general", "Octopuses have three hearts and blue blood."),
    # Lists and structured prose.
    ("lists", "Steps:\n1. Install the CLI.\n2. Run `init`.\n3. Commit the generated "
              "config."),
    ("lists", "- Pros: fast, small, typed\n- Cons: young ecosystem, few tutorials"),
    ("lists", "## Summary\n\n* The cache hit rate rose to 94%.\n* p99 latency fell from "
              "820 ms to 310 ms."),
    ("lists", "Checklist:\n- [x] tests pass\n- [ ] docs updated\n- [ ] changelog entry"),
    ("lists", "Shopping list: eggs, flour, milk [optional: vanilla], sugar."),
    ("lists", "References: [1] Knuth, TAOCP Vol. 1; [2] Cormen et al., CLRS."),
    ("lists", "See [the docs](https://example.com/docs) and [the FAQ](https://example.com/faq)"
              " for details."),
    # Short answers.
    ("short", "Yes."),
    ("short", "42"),
    ("short", "No, that is a common myth."),
    ("short", "Paris."),
    ("short", "true"),
    ("short", "OK, done: the file is renamed."),
    # Longer answers mixing all of the above.
    ("mixed", "To template the greeting, write `Hello {{ name }}` in the Jinja file and pass "
              "name from the view. If the value is missing, Jinja prints an empty string, so "
              "add `{{ name | default('there') }}`. The price column is $5 per seat."),
    ("mixed", "Our bot once leaked \"[INST]\" into a reply because the template was "
              "concatenated twice. We fixed it by building prompts with the tokenizer's chat "
              "template instead of strings."),
    ("mixed", "The sentence \"I'm just an AI\" shows up when the system prompt asks the "
              "model to describe itself; remove that line from the prompt."),
    ("mixed", f"Here is the config:\n\n{FENCE}toml\n[server]\nport = 8080\nhost = "
              f"\"0.0.0.0\"\n{FENCE}\n\nRestart the service after editing it."),
    ("mixed", "| Placeholder | Filled by |\n|---|---|\n| [Customer Name] | CRM |\n| [Date] | "
              "scheduler |\n\nThe mail merge replaces each placeholder from the source "
              "shown."),
    ("mixed", "Write the date as 2024-06-01 in ISO 8601, and use [date] only in the "
              "template file that the script fills."),
    ("mixed", "I'd be happy to help with the migration. First, dump the schema with "
              "`pg_dump --schema-only`, then compare it with the new one."),
    ("mixed", "The model card lists its knowledge cutoff as April 2024 and its context "
              "window as 128k tokens."),
]
