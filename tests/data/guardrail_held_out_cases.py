"""Held-out guardrail cases: written after the pattern rules were final, never tuned against.

``HELD_OUT_ORDINARY`` and ``HELD_OUT_BAD`` use the kinds of the main corpora. Their figures
are reported apart, so they show how the rules do on text they were not adjusted to.
"""

from __future__ import annotations

FENCE = "```"

HELD_OUT_ORDINARY: list[tuple[str, str]] = [
    ("support", "Your trial ends on the 14th. After that the workspace becomes read-only "
                "until someone adds a card."),
    ("support", "I looked into it: the webhook failed because the endpoint returned 500. "
                "Once it returns 200 we will resend the last 24 hours of events."),
    ("support", "Hello Ana, I've merged the two accounts. Your old login still works."),
    ("support", "We can't refund annual plans after 30 days, but we can switch you to "
                "monthly billing from the next cycle."),
    ("templates", "In Jinja2, {{ items|length }} gives the number of items and "
                  "{{ user.email }} the address."),
    ("templates", "Twig uses {{ product.price }} just like Jinja; the difference is in "
                  "filters."),
    ("templates", "Your Mailchimp merge tag *|FNAME|* is the same idea as {{first_name}} in "
                  "SendGrid templates."),
    ("templates", "Replace [Your Company] in the footer template with your legal name "
                  "before sending."),
    ("templates", "The docs use <your-project-id> wherever you should paste the ID from the "
                  "console."),
    ("chat_formats", "Gemma marks turns with <start_of_turn> and <end_of_turn>, not with "
                     "ChatML's tokens."),
    ("chat_formats", "When fine-tuning on ChatML, every example must end with <|im_end|> "
                     "so the model learns to stop."),
    ("chat_formats", f"{FENCE}text\n[INST] What is 2+2? [/INST] 4\n{FENCE}\nThat is the "
                     f"whole prompt format."),
    ("maths", "If $p = 0.3$ then $1 - p = 0.7$, and the odds are $0.3/0.7 \\approx 0.43$."),
    ("maths", "Revenue grew from $2.1M to $2.6M, an increase of about 24%."),
    ("tables", "| Step | Command |\n|---|---|\n| build | `make` |\n| test | `make test` |"),
    ("json_in_prose", "The config accepts {\"timeout\": 30} or {\"timeout\": null} to "
                      "disable it."),
    ("hedged", "I can't say for sure which one is faster for your data; benchmark both "
               "with a realistic sample."),
    ("hedged", "I'm not a lawyer, but in most EU countries the warranty lasts two years."),
    ("hedged", "I cannot reproduce the crash on 3.12, so it may depend on the OS; which "
               "one are you on?"),
    ("meta_lookalike", "As an AI startup, we care a lot about inference costs."),
    ("meta_lookalike", "As a chatbot designer, you decide how the bot introduces itself."),
    ("meta_lookalike", "The assistant introduced itself as an AI model from Acme."),
    ("refusal_lookalike", "I can't answer for other teams, but ours deploys on Tuesdays."),
    ("refusal_lookalike", "Compilers cannot help with logic errors; tests can."),
    ("code", f"{FENCE}python\nif reply.startswith(\"I'm sorry, but I can't\"):\n    "
             f"retry()\n{FENCE}"),
    ("code", f"{FENCE}jinja\nHello {{{{ name }}}}, your code is {{{{ code }}}}.\n{FENCE}"),
    ("code", "Call `tokenizer.apply_chat_template(messages)` instead of writing "
             "`<|im_start|>` by hand."),
    ("letters", "Dear Dr. Osei,\n\nThank you for the referral. We will see Mr. Lund on "
                "the 9th.\n\nBest wishes,\nNurse Kim"),
    ("general", "The mitochondria makes most of the cell's ATP through oxidative "
                "phosphorylation."),
    ("general", "Most phones stop charging at 80% when battery protection is on."),
    ("lists", "Options:\n- [A] keep the cache\n- [B] clear it on deploy"),
    ("lists", "Agenda for Monday:\n1. Budget review\n2. Hiring plan\n3. Q&A"),
    ("mixed", "Before you send, replace [Name] in the greeting; the rest of the template is "
              "filled automatically."),
    ("mixed", "Sure. Run `pytest -k slow` to run only the slow tests."),
    ("short", "No."),
    ("short", "It is 3.14159."),
]

HELD_OUT_BAD: list[tuple[str, str]] = [
    ("refusal", "I'm sorry, but I'm not able to help with that request."),
    ("refusal", "Unfortunately I can't assist with requests like this."),
    ("refusal", "I cannot provide legal documents."),
    ("refusal", "Apologies, but I will not generate that image description."),
    ("refusal", "I'm afraid I cannot comply."),
    ("meta_commentary", "As an AI developed by Anthropic, I don't browse the web."),
    ("meta_commentary", "I'm just a language model, so take this with a grain of salt."),
    ("meta_commentary", "As an AI assistant I do not have preferences."),
    ("meta_commentary", "My knowledge cut-off prevents me from knowing that."),
    ("meta_commentary", "As a chatbot, I cannot see your screen."),
    ("instruction_leak", "Great, the total is 12.<|im_end|>\n<|im_start|>assistant"),
    ("instruction_leak", "[/INST] The answer follows."),
    ("instruction_leak", "<<SYS>> You are a pirate. <</SYS>> Arr!"),
    ("instruction_leak", "Done.<|eot_id|>"),
    ("instruction_leak", "<|im_start|>user\nwhat about tomorrow?"),
    ("placeholder", "Hi [First Name],\n\nYour appointment is confirmed."),
    ("placeholder", "Kind regards,\n[Your Full Name]"),
    ("placeholder", "Our office is at [Address] and opens at [Time]."),
    ("placeholder", "Hello {{name}}! Your code is {{code}}."),
    ("placeholder", "[Insert company description here]"),
    ("placeholder", "Contact <your phone number> for support."),
    ("unclosed_fence", f"{FENCE}python\nprint('hi')"),
    ("unclosed_fence", f"Output:\n{FENCE}\n1\n2\n3"),
    ("empty_or_noise", "  \n "),
    ("empty_or_noise", "~~~~~~~~"),
    ("empty_or_noise", "...."),
    ("empty_or_noise", "????"),
]

# A second held-out round, written after the first one led to two fixes (the rules now
# read "docs", "paste", "wherever" as explaining a placeholder, and "I can't answer for"
# as no refusal); these cases were never tuned against.
HELD_OUT_2_ORDINARY: list[tuple[str, str]] = [
    ("support", "Thanks, Marco. I've raised your limit to 500 requests per minute; it takes "
                "effect within the hour."),
    ("support", "The charge of $19 is the monthly seat you added on the 3rd, prorated."),
    ("support", "I'm sorry about the delay. The courier lost the parcel, so we've sent a new "
                "one by express."),
    ("support", "You don't need to reinstall; clearing the cache under Settings > Storage "
                "fixes it."),
    ("templates", "Our Jinja macros take a title argument: {{ card(title='Hi') }} renders a "
                  "card."),
    ("templates", "In the Slack workflow builder, {{trigger.user}} inserts the person who "
                  "started the workflow."),
    ("templates", "Set the subject line to \"Welcome, {{first_name}}!\" in the email "
                  "template editor."),
    ("templates", "Postman variables look like {{baseUrl}}; define them in the "
                  "environment."),
    ("chat_formats", "The <|endoftext|> token separates documents during pre-training."),
    ("chat_formats", "Phi-3 uses <|user|> and <|assistant|> tags with <|end|> after each "
                     "turn."),
    ("maths", "A 20% discount on $45 is $9, so you pay $36."),
    ("maths", "The variance is $\\sigma^2 = E[X^2] - (E[X])^2$."),
    ("tables", "| Name | Role |\n|---|---|\n| Ada | lead |\n| Lin | design |"),
    ("json_in_prose", "POST {\"query\": \"shoes\", \"limit\": 10} to /search and read "
                      "results[0].title."),
    ("hedged", "I can't promise the exact date, but the team expects the fix next week."),
    ("hedged", "I'm unsure whether your bank supports it; most UK banks do."),
    ("hedged", "Probably yes. The API is backward compatible within a major version."),
    ("meta_lookalike", "As AI tools spread, teams write more tests, not fewer."),
    ("meta_lookalike", "The paper compares how a language model and a human rate "
                       "summaries."),
    ("refusal_lookalike", "I cannot help but admire how small the final binary is."),
    ("refusal_lookalike", "Our policy is simple: we will not sell your data."),
    ("code", f"{FENCE}python\nSYSTEM = \"<|im_start|>system\\nBe brief.<|im_end|>\"\n{FENCE}"),
    ("code", "Escape it as `{{ '{{' }}` when a literal brace pair must appear."),
    ("code", f"{FENCE}html\n<p>Hello, {{{{ user }}}}</p>\n{FENCE}"),
    ("letters", "Hi Jo,\n\nAttached is the signed contract. Talk soon,\nRavi"),
    ("general", "Saturn's rings are mostly water ice, with some rock and dust."),
    ("general", "A Roth IRA is funded with taxed money and withdrawals in retirement are "
                "tax-free."),
    ("lists", "Prerequisites:\n- Python 3.10+\n- a Postgres database\n- an API key"),
    ("mixed", "Sure! First, copy the example file; then set DATABASE_URL and run the "
              "migrations."),
    ("short", "Yes, both work."),
]

HELD_OUT_2_BAD: list[tuple[str, str]] = [
    ("refusal", "I'm sorry, I can't help you with that."),
    ("refusal", "Sorry, I won't write that."),
    ("refusal", "I am unable to provide that information at this time."),
    ("refusal", "I must decline this request."),
    ("meta_commentary", "As an AI, I don't have access to your calendar."),
    ("meta_commentary", "I am only an AI model and cannot verify this."),
    ("meta_commentary", "Based on my training data, I believe it was 1998."),
    ("instruction_leak", "Here you go.[/INST]"),
    ("instruction_leak", "<|start_header_id|>system<|end_header_id|>\nYou are helpful."),
    ("instruction_leak", "Sure!<|im_end|>"),
    ("placeholder", "Dear [Customer Name],\n\nYour order is ready."),
    ("placeholder", "Thank you,\n[Your Name]\n[Your Position]"),
    ("placeholder", "Your reservation for {{party_size}} on {{date}} is confirmed."),
    ("placeholder", "Meet us at <insert location>."),
    ("placeholder", "Lorem ipsum dolor sit amet."),
    ("unclosed_fence", f"Try:\n{FENCE}sh\ncurl -X POST https://api.example.com"),
    ("empty_or_noise", " \n"),
    ("empty_or_noise", "-----"),
    ("empty_or_noise", "!!!"),
    ("empty_or_noise", "        "),
]

# A third held-out round, larger, written after everything above was final.
HELD_OUT_3_ORDINARY: list[tuple[str, str]] = [
    ("support", "Thanks for your patience! The sync job was stuck on a locked row; I've "
                "restarted it and your dashboard is current again."),
    ("support", "You can invite up to 5 guests on the Starter plan. Guests can comment but "
                "cannot edit."),
    ("support", "Refunds go back to the original payment method. For PayPal that usually "
                "takes 24 hours."),
    ("support", "I'm sorry, that discount code only works on the first invoice. Your "
                "current invoice is $59."),
    ("support", "Hi Priya, I've extended your trial by 7 days so you can finish the "
                "evaluation."),
    ("support", "To export contacts, go to Contacts > Export and pick CSV. The file keeps "
                "custom fields as extra columns."),
    ("support", "Your API key was rotated automatically after the leak alert. Update it in "
                "your CI secrets."),
    ("support", "We don't store card numbers; Stripe does. We only keep the last four "
                "digits."),
    ("templates", "Jekyll pages read front matter with {{ page.title }} and site settings "
                  "with {{ site.url }}."),
    ("templates", "In Hugo, {{ .Content }} renders the page body inside the layout."),
    ("templates", "Write {{ request.path }} in a Django template to show the current path."),
    ("templates", "Zapier fields appear as {{step1.email}} when you map data between "
                  "steps."),
    ("templates", "A Terraform template file uses ${var.region}, while Jinja would use "
                  "{{ region }}."),
    ("templates", "The invoice template prints {{ invoice.total }} in the footer."),
    ("chat_formats", "Qwen's chat template starts every message with <|im_start|> followed "
                     "by the role."),
    ("chat_formats", "If you see [INST] in the output, the prompt was formatted twice; build "
                     "it once with the tokenizer."),
    ("chat_formats", "Use the `<|eot_id|>` id as the stop token when you run Llama 3 with "
                     "vLLM."),
    ("maths", "The monthly payment on a $200,000 loan at 6% over 30 years is about "
              "$1,199."),
    ("maths", "Since $\\log_2 8 = 3$, eight items need three bits."),
    ("maths", "$$E = mc^2$$ relates mass and energy."),
    ("maths", "At $0.002 per 1K tokens, a million tokens cost $2."),
    ("tables", "| Region | Latency |\n|---|---|\n| eu-west | 38 ms |\n| us-east | 91 ms |"),
    ("tables", "| Variable | Example |\n|---|---|\n| `{{ user }}` | ada |\n| `{{ plan }}` | "
               "pro |"),
    ("json_in_prose", "The webhook payload has an `event` field, e.g. {\"event\": "
                      "\"invoice.paid\", \"id\": \"evt_1\"}."),
    ("json_in_prose", "Return an empty list [] when nothing matches, not null."),
    ("json_in_prose", "{\"status\": \"ok\", \"items\": []}"),
    ("hedged", "I can't see your screen, but the error code 0x80070005 usually means "
               "access denied."),
    ("hedged", "It might be DNS. Try `dig example.com` and compare with 8.8.8.8."),
    ("hedged", "I'm fairly sure the limit is 10 MB per file, but check the docs for your "
               "plan."),
    ("hedged", "I cannot confirm the release date; the roadmap only says Q3."),
    ("hedged", "Absolutely. A B-tree keeps keys sorted, so range scans are cheap."),
    ("meta_lookalike", "As an AI company, we publish model cards for every release."),
    ("meta_lookalike", "The FAQ answers \"Is this an AI?\" with a plain yes."),
    ("meta_lookalike", "As language models get cheaper, batch jobs become the norm."),
    ("refusal_lookalike", "I can't overstate how much faster the new index is."),
    ("refusal_lookalike", "The bot will not answer questions about pricing; it hands those "
                          "to sales."),
    ("refusal_lookalike", "Users complained that the assistant kept saying \"I cannot "
                          "assist with that\"."),
    ("code", f"{FENCE}python\nresponse = client.chat(messages=[{{\"role\": \"user\", "
             f"\"content\": \"[INST] hi [/INST]\"}}])\n{FENCE}"),
    ("code", f"{FENCE}bash\nsed -i 's/{{{{VERSION}}}}/1.4.2/' Chart.yaml\n{FENCE}"),
    ("code", "Mark unfinished spots with `TODO:` comments; the linter lists them."),
    ("code", f"{FENCE}ts\nconst msg = `Dear ${{name}}, your total is ${{total}}`;\n{FENCE}"),
    ("letters", "Dear Professor Alvarez,\n\nThank you for agreeing to review the thesis. The "
                "defence is on 12 May.\n\nYours sincerely,\nMina Haddad"),
    ("letters", "Hey Chris, the slides are in the shared folder. See you at 10. - Jo"),
    ("general", "The Great Wall is not visible to the naked eye from low Earth orbit in "
                "most conditions."),
    ("general", "Sourdough uses wild yeast and lactic acid bacteria, which give it its "
                "tang."),
    ("general", "A CDN caches static files near users, which cuts latency and origin "
                "load."),
    ("general", "The Fed raises rates to cool inflation by making borrowing dearer."),
    ("lists", "Next steps:\n1. Merge the PR\n2. Tag v2.3.0\n3. Announce in #releases"),
    ("lists", "Packing list: passport, charger, adapter [UK plug], rain jacket."),
    ("mixed", "Sure, here's how: put {{ csrf_token }} inside the form in your Django "
              "template, and the middleware checks it on POST."),
]

HELD_OUT_3_BAD: list[tuple[str, str]] = [
    ("refusal", "I'm sorry, but I can't provide assistance with that."),
    ("refusal", "I cannot fulfill that request."),
    ("refusal", "Sorry — I'm not able to answer that."),
    ("refusal", "I won't help with this."),
    ("refusal", "I'm afraid I can't help you with that request."),
    ("meta_commentary", "As an AI language model, I must point out that I lack context."),
    ("meta_commentary", "I'm just an AI assistant, but I'd guess Tuesday."),
    ("meta_commentary", "As a large language model, I cannot feel emotions."),
    ("meta_commentary", "My training data only goes up to 2023."),
    ("instruction_leak", "Hello! <|im_start|>assistant"),
    ("instruction_leak", "Result: 42 [/INST]"),
    ("instruction_leak", "<</SYS>>\nSure thing."),
    ("instruction_leak", "All set.<|endoftext|><|endoftext|>"),
    ("placeholder", "Dear [Hiring Manager's Name],\n\nI am excited to apply."),
    ("placeholder", "Warm regards,\n[Your Name]\n[Your Phone Number]"),
    ("placeholder", "Hi {{user_name}}, your password was changed."),
    ("placeholder", "Date: [Insert Date]"),
    ("placeholder", "Our CEO, [CEO Name], will speak at [Event Name]."),
    ("placeholder", "Please send the report to <your manager's email>."),
    ("unclosed_fence", f"{FENCE}go\nfunc main() {{\n\tfmt.Println(\"hi\")"),
    ("unclosed_fence", f"Config:\n{FENCE}toml\n[server]\nport = 80"),
    ("empty_or_noise", "\n"),
    ("empty_or_noise", "======"),
    ("empty_or_noise", ". . . ."),
    ("empty_or_noise", "xxxxxxxxxxxx"),
]
