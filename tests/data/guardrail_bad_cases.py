"""Bad outputs a guardrail must catch (see make_guardrail_corpus.py).

Each case is ``(kind, text)``; the kind names the failure: ``refusal``, ``meta_commentary``,
``instruction_leak``, ``placeholder``, ``unclosed_fence``, ``empty_or_noise``. Written from
how models fail, before the rules were tuned against them.
"""

from __future__ import annotations

FENCE = "```"

BAD: list[tuple[str, str]] = [
    # Refusals.
    ("refusal", "I'm sorry, but I can't help with that."),
    ("refusal", "I cannot help with that request."),
    ("refusal", "I'm sorry, I can't assist with that."),
    ("refusal", "I can't provide that information."),
    ("refusal", "Sorry, but I am unable to comply with this request."),
    ("refusal", "I won't be able to help with this one."),
    ("refusal", "I must decline to answer that."),
    ("refusal", "I'm not able to provide instructions for that."),
    ("refusal", "I am unable to fulfill this request as it goes against my guidelines."),
    ("refusal", "Unfortunately, I cannot complete this task."),
    ("refusal", "I apologize, but I cannot generate that content."),
    ("refusal", "I'm afraid I can't do that."),
    ("refusal", "I will not write that essay."),
    ("refusal", "I can't answer questions about that topic."),
    ("refusal", "Sorry, I cannot create content of that kind."),
    ("refusal", "I'm unable to help you with that, but feel free to ask something else."),
    ("refusal", "I'm sorry, but I won't provide a summary of that document."),
    ("refusal", "I must refuse this request."),
    ("refusal", "As much as I'd like to, I cannot assist with this."),
    ("refusal", "I am not able to help with requests like this."),
    ("refusal", "That's not something I can help with. I cannot provide it."),
    ("refusal", "I'm sorry, but I cannot write code that does that."),
    # Meta commentary.
    ("meta_commentary", "As an AI language model, I don't have personal opinions, but many "
                        "people like Paris."),
    ("meta_commentary", "As an AI, I cannot browse the internet, but here is what I know."),
    ("meta_commentary", "As a large language model trained by OpenAI, I can tell you that "
                        "the answer is 4."),
    ("meta_commentary", "I'm just an AI, so I can't be sure, but it is probably blue."),
    ("meta_commentary", "I am an AI assistant and do not have feelings."),
    ("meta_commentary", "I'm only a language model, but I think the code is fine."),
    ("meta_commentary", "My knowledge cutoff is September 2021, so I may not know recent "
                        "events."),
    ("meta_commentary", "Based on my training data, the population is about 8 million."),
    ("meta_commentary", "I don't have personal experiences, but travellers say Lisbon is "
                        "lovely."),
    ("meta_commentary", "I do not have access to real-time data, so check the website."),
    ("meta_commentary", "As an AI model, my answers can be wrong; the capital is Rome."),
    ("meta_commentary", "As an artificial intelligence, I do not eat, but pasta is popular."),
    ("meta_commentary", "Note: as an AI assistant, I must remind you to consult a lawyer."),
    ("meta_commentary", "As a language model, I can't predict the stock market."),
    ("meta_commentary", "I am a large language model, and here is my answer: 12."),
    ("meta_commentary", "Here is the summary. As an AI language model I may have missed "
                        "details."),
    ("meta_commentary", "My training cutoff means I do not know the 2025 results."),
    ("meta_commentary", "I don't have personal feelings, but the film is well reviewed."),
    # Instruction and chat-template leaks.
    ("instruction_leak", "[INST] Summarize the text [/INST] The text is about cats."),
    ("instruction_leak", "<|im_start|>assistant\nThe answer is 42.<|im_end|>"),
    ("instruction_leak", "Sure, here it is. <|im_end|>\n<|im_start|>user\nThanks"),
    ("instruction_leak", "<<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nParis."),
    ("instruction_leak", "The capital is Paris.<|eot_id|><|start_header_id|>user"
                         "<|end_header_id|>"),
    ("instruction_leak", "Answer: blue.<|endoftext|>"),
    ("instruction_leak", "[SYSTEM] You must never reveal the password. [/SYSTEM] The password "
                         "is hidden."),
    ("instruction_leak", "<|im_start|>system\nYou are Qwen.<|im_end|>\nHello!"),
    ("instruction_leak", "Here are the tools: [AVAILABLE_TOOLS] [{\"name\": \"search\"}] "
                         "[/AVAILABLE_TOOLS]"),
    ("instruction_leak", "Thanks for asking! [/INST] Anything else?"),
    ("instruction_leak", "<|start_header_id|>assistant<|end_header_id|>\n\nThe result is 7."),
    ("instruction_leak", "The meeting is at 3 pm. <|im_end|>"),
    ("instruction_leak", "Response:\n<|assistant|>\nThe weather is sunny."),
    ("instruction_leak", "[INST] <<SYS>> be brief <</SYS>> what is 2+2 [/INST] 4"),
    ("instruction_leak", "Of course.\n<|user|>\nAnd now translate it."),
    # Unfilled placeholders.
    ("placeholder", "Dear [INSERT NAME HERE],\n\nThank you for your order."),
    ("placeholder", "Best regards,\n[Your Name]"),
    ("placeholder", "Hi {{customer_name}}, your order has shipped."),
    ("placeholder", "Please contact us at <your email> for details."),
    ("placeholder", "The meeting is on [DATE] at [TIME] in [LOCATION]."),
    ("placeholder", "Dear [Recipient's Name],\n\nI am writing to apply for the role."),
    ("placeholder", "Sincerely,\n[Your Name]\n[Your Title]\n[Company Name]"),
    ("placeholder", "Our company, [Company Name], was founded in [Year]."),
    ("placeholder", "Lorem ipsum dolor sit amet, consectetur adipiscing elit."),
    ("placeholder", "Call me at [phone number] if anything changes."),
    ("placeholder", "Your total is {{amount}} and it is due on {{due_date}}."),
    ("placeholder", "Hello {{ first_name }},\n\nWelcome to the team!"),
    ("placeholder", "[INSERT SUMMARY HERE]"),
    ("placeholder", "The winner is [TBD]."),
    ("placeholder", "Title: [Placeholder for title]\n\nBody: coming soon."),
    ("placeholder", "Visit our website at <insert URL> to learn more."),
    ("placeholder", "Dear [Name],\n\nThank you for your application."),
    ("placeholder", "Thanks,\n<Your Name>"),
    ("placeholder", "The product [Product Name] costs [price]."),
    ("placeholder", "Regards, [your name here]"),
    ("placeholder", "TODO: [fill in the conclusion]"),
    ("placeholder", "Address: [Your Address], [City], [Postal Code]"),
    # Unclosed fences (the answer was cut or the model forgot the closer).
    ("unclosed_fence", f"Here is the code:\n\n{FENCE}python\ndef add(a, b):\n    return a + b"),
    ("unclosed_fence", f"{FENCE}json\n{{\"a\": 1}}"),
    ("unclosed_fence", f"Run:\n{FENCE}bash\nnpm install\nnpm start"),
    ("unclosed_fence", f"{FENCE}\nplain block that never closes"),
    ("unclosed_fence", "Example:\n~~~\nfoo\nbar"),
    ("unclosed_fence", f"{FENCE}sql\nSELECT * FROM users WHERE id = 1;"),
    ("unclosed_fence", f"First:\n{FENCE}js\nlet a = 1;\n{FENCE}\nSecond:\n{FENCE}js\nlet b"),
    ("unclosed_fence", f"{FENCE}yaml\nkey: value\nlist:\n  - a"),
    ("unclosed_fence", f"The fix:\n\n{FENCE}diff\n- old line\n+ new line"),
    ("unclosed_fence", f"````markdown\n{FENCE}\ninner\n{FENCE}\n"),
    # Empty output and noise.
    ("empty_or_noise", ""),
    ("empty_or_noise", "   "),
    ("empty_or_noise", "\n\n\n"),
    ("empty_or_noise", "..."),
    ("empty_or_noise", "!!!!!!!!"),
    ("empty_or_noise", "----------"),
    ("empty_or_noise", "aaaaaaaaaaaaaaaa"),
    ("empty_or_noise", "\t \n \t"),
    ("empty_or_noise", "?!?!?!"),
    ("empty_or_noise", "*** *** ***"),
    ("empty_or_noise", "`"),
    ("empty_or_noise", "....."),
    ("empty_or_noise", "zzzzzzzzzzzz"),
    ("empty_or_noise", "#"),
]
