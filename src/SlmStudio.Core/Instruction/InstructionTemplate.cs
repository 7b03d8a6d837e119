using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Instruction;

/// <summary>Token ids of one conversation and, per token, whether it belongs to an answer (the tokens the loss is on).</summary>
public sealed record TokenizedConversation(int[] Ids, bool[] IsAnswer)
{
    public int AnswerTokens => IsAnswer.Count(a => a);
}

/// <summary>Where a model's chat template comes from.</summary>
public enum InstructionTemplateKind
{
    /// <summary>The base model's own chat_template (ChatML, Llama 3, Mistral or Phi-3; see <see cref="ChatTemplate"/>).</summary>
    BaseModel,
    /// <summary>ChatML with the &lt;|im_start|&gt; / &lt;|im_end|&gt; tokens that <see cref="ChatVocabulary"/> adds to our own tokenizers.</summary>
    OwnChatMl,
    /// <summary>"### Question:" / "### Answer:" in plain text, the answer ending in the end-of-text token: for a base model
    /// that has no chat template, so no new token (and no new embedding row) is needed.</summary>
    PlainText,
}

/// <summary>
/// The chat format a model is trained and used with: renders conversations to text, to token ids with an answer mask
/// (training), and to the prompt ids that end where the answer begins (inference); knows the tokens that end a turn.
/// The template travels with the model as tokenizer_config.json's chat_template (a Jinja string, as Hugging Face and
/// onnxruntime-genai read it), and <see cref="Load"/> recognises it again from there.
/// </summary>
public sealed class InstructionTemplate
{
    /// <summary>ChatML for our own tokenizers; the beginning-of-text token first, as every training document starts.</summary>
    public const string OwnChatMlJinja =
        "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    public const string PlainTextJinja =
        "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}" +
        "{% elif message['role'] == 'user' %}{{ '### Question:\\n' + message['content'] + '\\n\\n### Answer:\\n' }}" +
        "{% else %}{{ message['content'] + eos_token + '\\n\\n' }}{% endif %}{% endfor %}";

    /// <summary>Where a plain-text answer that runs on would start the next question: generation stops there too.</summary>
    public const string PlainTextNextQuestion = "### Question:";

    private readonly ChatTemplate? _chat;
    private readonly string _eosText;

    private InstructionTemplate(InstructionTemplateKind kind, ChatTemplate? chat, string eosText)
    {
        Kind = kind;
        _chat = chat;
        _eosText = eosText;
    }

    public InstructionTemplateKind Kind { get; }

    /// <summary>The Jinja text for tokenizer_config.json's chat_template (null for a base model: its own stays as it is).</summary>
    public string? Jinja => Kind switch
    {
        InstructionTemplateKind.OwnChatMl => OwnChatMlJinja,
        InstructionTemplateKind.PlainText => PlainTextJinja,
        _ => null,
    };

    /// <summary>Text that ends an answer even when the model does not produce an end-of-turn token.</summary>
    public IReadOnlyList<string> StopSequences => Kind == InstructionTemplateKind.PlainText ? [PlainTextNextQuestion] : [];

    /// <summary>The template for training a model with <paramref name="tokenizer"/>: the base model's own chat template when it
    /// has one SLM Studio renders, ChatML when the tokenizer carries <see cref="ChatVocabulary"/>'s tokens, else plain text.</summary>
    public static InstructionTemplate For(ITokenizer tokenizer, string? baseModelFolder)
    {
        if (baseModelFolder is not null)
        {
            try
            {
                if (ChatTemplate.Load(baseModelFolder) is { } own)
                    return new InstructionTemplate(InstructionTemplateKind.BaseModel, own, EosText(tokenizer));
            }
            catch (UnsupportedModelException)
            {
                // A template in a format we cannot render is not used; the plain one below works with any tokenizer.
            }
        }
        if (ChatVocabulary.IsIn(tokenizer))
            return new InstructionTemplate(InstructionTemplateKind.OwnChatMl, ChatTemplate.Parse(OwnChatMlJinja, null, null), EosText(tokenizer));
        if (tokenizer.EosId is null)
            throw new EngineException("This model's tokenizer has no end-of-text token, so a trained answer could not tell the model where to stop. Pick a base model with an end-of-text token, or train from scratch.");
        return new InstructionTemplate(InstructionTemplateKind.PlainText, null, EosText(tokenizer));
    }

    /// <summary>The template of a chat model folder or artifact (its tokenizer_config.json's chat_template); null when it has none.</summary>
    public static InstructionTemplate? Load(string folder, ITokenizer tokenizer)
    {
        var path = Path.Combine(folder, "tokenizer_config.json");
        if (!File.Exists(path)) return null;
        JsonObject? config;
        try { config = JsonNode.Parse(File.ReadAllText(path)) as JsonObject; }
        catch (JsonException) { return null; }
        var text = config?["chat_template"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        if (text == PlainTextJinja) return new InstructionTemplate(InstructionTemplateKind.PlainText, null, EosText(tokenizer));
        if (text == OwnChatMlJinja) return new InstructionTemplate(InstructionTemplateKind.OwnChatMl, ChatTemplate.Parse(OwnChatMlJinja, null, null), EosText(tokenizer));
        return config is null || ChatTemplate.FromTokenizerConfig(config) is not { } chat ? null : new InstructionTemplate(InstructionTemplateKind.BaseModel, chat, EosText(tokenizer));
    }

    /// <summary>
    /// Writes tokenizer_config.json into a model folder with this template as its chat_template: the base model's own file
    /// (copied, its template kept) when there is one, else one naming the special tokens.
    /// </summary>
    public void WriteTokenizerConfig(string modelFolder, ITokenizer tokenizer, int modelMaxLength, string? baseModelFolder)
    {
        var target = Path.Combine(modelFolder, "tokenizer_config.json");
        var source = baseModelFolder is null ? null : Path.Combine(baseModelFolder, "tokenizer_config.json");
        if (source is not null && File.Exists(source)) File.Copy(source, target, overwrite: true);
        else if (tokenizer is HfTokenizer hf) hf.SaveTokenizerConfig(target, modelMaxLength);
        else File.WriteAllText(target, "{}");
        if (Jinja is not { } jinja) return;
        var config = JsonNode.Parse(File.ReadAllText(target)) as JsonObject ?? [];
        config["chat_template"] = jinja;
        if (tokenizer.BosId is { } bos && config["bos_token"] is null) config["bos_token"] = tokenizer.IdToToken(bos);
        if (tokenizer.EosId is { } eos && config["eos_token"] is null) config["eos_token"] = tokenizer.IdToToken(eos);
        AtomicFile.WriteAllText(target, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>The conversation as text; with <paramref name="addGenerationPrompt"/>, ending where the assistant's reply begins.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        if (_chat is not null) return _chat.Render(messages, addGenerationPrompt);
        var sb = new StringBuilder();
        foreach (var m in messages)
        {
            if (m.Role == "system") sb.Append(m.Content).Append("\n\n");
            else if (m.Role == "user") sb.Append("### Question:\n").Append(m.Content).Append("\n\n### Answer:\n");
            else sb.Append(m.Content).Append(_eosText).Append("\n\n");
        }
        return sb.ToString();
    }

    /// <summary>Our own templates start with the beginning-of-text token (as training documents do); a base model's template
    /// writes its own where it wants one.</summary>
    private bool PrependsBos => Kind != InstructionTemplateKind.BaseModel;

    /// <summary>The ids the model reads before it answers the last user message of <paramref name="messages"/>.</summary>
    public int[] PromptIds(ITokenizer tokenizer, IReadOnlyList<ChatMessage> messages) => Encode(tokenizer, Render(messages, addGenerationPrompt: true));

    /// <summary>
    /// The whole conversation as ids with every assistant message (and its end-of-turn token) marked as answer, cut to
    /// <paramref name="maxTokens"/>. Each answer's span is found by tokenizing the conversation up to where the answer
    /// starts and up to where it ends, so the model learns to continue exactly the prompt it will be given in use.
    /// </summary>
    public TokenizedConversation Tokenize(ITokenizer tokenizer, IReadOnlyList<ChatMessage> messages, int maxTokens)
    {
        var ids = Encode(tokenizer, Render(messages, addGenerationPrompt: false));
        var isAnswer = new bool[ids.Length];
        var endOfTurn = EndOfTurnIds(tokenizer);
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != "assistant") continue;
            var before = Encode(tokenizer, Render([.. messages.Take(i)], addGenerationPrompt: true));
            var through = Encode(tokenizer, Render([.. messages.Take(i + 1)], addGenerationPrompt: false));
            int start = CommonPrefix(before, ids), end = CommonPrefix(through, ids);
            // A template that ends the answer with text after the end-of-turn token (ChatML's newline) still ends the span
            // at that token: the model learns to stop, not to start the next turn.
            for (int t = start; t < end; t++)
            {
                isAnswer[t] = true;
                if (endOfTurn.Contains(ids[t])) break;
            }
        }
        if (ids.Length > maxTokens) return new TokenizedConversation(ids[..maxTokens], isAnswer[..maxTokens]);
        return new TokenizedConversation(ids, isAnswer);
    }

    /// <summary>The ids that end an answer: the template's end-of-turn token and the end-of-text token.</summary>
    public IReadOnlyList<int> EndOfTurnIds(ITokenizer tokenizer)
    {
        var ids = new List<int>();
        string? marker = _chat?.Format switch
        {
            ChatFormat.ChatMl => "<|im_end|>",
            ChatFormat.Llama3 => "<|eot_id|>",
            ChatFormat.Phi3 => "<|end|>",
            _ => null,
        };
        if (marker is not null && SingleToken(tokenizer, marker) is { } id) ids.Add(id);
        if (tokenizer.EosId is { } eos && !ids.Contains(eos)) ids.Add(eos);
        return ids;
    }

    private int[] Encode(ITokenizer tokenizer, string text)
    {
        var ids = tokenizer.Encode(text, addSpecialTokens: false, splitSpecialTokens: true);
        return PrependsBos && tokenizer.BosId is { } bos ? [bos, .. ids] : ids;
    }

    private static int? SingleToken(ITokenizer tokenizer, string text) =>
        tokenizer.Encode(text, addSpecialTokens: false, splitSpecialTokens: true) is [var id] ? id : null;

    private static string EosText(ITokenizer tokenizer) => tokenizer.EosId is { } eos ? tokenizer.IdToToken(eos) ?? "" : "";

    private static int CommonPrefix(int[] a, int[] b)
    {
        int n = Math.Min(a.Length, b.Length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }
}
