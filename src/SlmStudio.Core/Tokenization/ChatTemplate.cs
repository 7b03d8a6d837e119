using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SlmStudio.Core.Tokenization;

/// <summary>One turn of a conversation: role "system", "user" or "assistant", and its text.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>The prompt formats of the model families SLM Studio runs.</summary>
public enum ChatFormat
{
    /// <summary>&lt;|im_start|&gt;role … &lt;|im_end|&gt;: Qwen2, Qwen2.5, SmolLM2.</summary>
    ChatMl,
    /// <summary>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt; … &lt;|eot_id|&gt;: Llama 3, 3.1, 3.2.</summary>
    Llama3,
    /// <summary>[INST] … [/INST]: Mistral 7B Instruct, TinyLlama-style Llama 2 chat without system block.</summary>
    MistralInst,
    /// <summary>&lt;|user|&gt; … &lt;|end|&gt;: Phi-3 and Phi-3.5.</summary>
    Phi3,
}

/// <summary>
/// The chat template of a model's tokenizer_config.json, rendered for a list of messages. The templates are Jinja
/// programs; no maintained Jinja renderer for .NET is available to this project, so instead of interpreting
/// arbitrary template code the template is recognised by the markers of the formats that the supported families
/// ship (<see cref="ChatFormat"/>) and rendered the way those templates render; any other template is refused by
/// name rather than rendered wrongly. Details the families vary (a default system prompt, a fixed date line, a
/// leading beginning-of-text token) are read from the template text itself.
/// </summary>
public sealed partial class ChatTemplate
{
    private ChatTemplate(ChatFormat format, string? bosToken, string? eosToken, string? defaultSystem, string? llamaDate, bool phiBos)
    {
        Format = format;
        _bos = bosToken ?? "";
        _eos = eosToken ?? "";
        DefaultSystemPrompt = defaultSystem;
        _llamaDate = llamaDate;
        _phiBos = phiBos;
    }

    private readonly string _bos;
    private readonly string _eos;
    private readonly string? _llamaDate;
    private readonly bool _phiBos;

    public ChatFormat Format { get; }

    /// <summary>The system prompt the template adds when the conversation has none (ChatML templates of Qwen and SmolLM2).</summary>
    public string? DefaultSystemPrompt { get; }

    /// <summary>The template of the Hugging Face folder <paramref name="modelFolder"/>, or null when its
    /// tokenizer_config.json has no chat_template (a base model that was never tuned for chat, such as Phi-2).</summary>
    public static ChatTemplate? Load(string modelFolder)
    {
        var path = Path.Combine(modelFolder, "tokenizer_config.json");
        if (!File.Exists(path)) return null;
        JsonObject config;
        try { config = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new JsonException("not an object"); }
        catch (JsonException e) { throw new UnsupportedModelException($"{path} is not valid JSON ({e.Message}).", e); }
        return FromTokenizerConfig(config);
    }

    /// <summary>As <see cref="Load"/>, from the parsed tokenizer_config.json.</summary>
    public static ChatTemplate? FromTokenizerConfig(JsonObject config)
    {
        var template = config["chat_template"] switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            // Newer files may list several named templates; "default" is the one used for chat.
            JsonArray list => list.OfType<JsonObject>().FirstOrDefault(t => t["name"]?.GetValue<string>() == "default")?["template"]?.GetValue<string>(),
            _ => null,
        };
        if (string.IsNullOrWhiteSpace(template)) return null;
        return Parse(template, TokenText(config["bos_token"]), TokenText(config["eos_token"]));
    }

    private static string? TokenText(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonObject o => o["content"]?.GetValue<string>(),
        _ => null,
    };

    /// <summary>Recognises <paramref name="template"/>; refuses, by name where it can, one of another format.</summary>
    public static ChatTemplate Parse(string template, string? bosToken, string? eosToken)
    {
        if (template.Contains("<|im_start|>", StringComparison.Ordinal) && template.Contains("<|im_end|>", StringComparison.Ordinal))
        {
            var system = ChatMlDefaultSystem().Match(template);
            return new ChatTemplate(ChatFormat.ChatMl, bosToken, eosToken, system.Success ? Unescape(system.Groups[1].Value) : null, null, false);
        }
        if (template.Contains("<|start_header_id|>", StringComparison.Ordinal) && template.Contains("<|eot_id|>", StringComparison.Ordinal))
        {
            string? date = null;
            if (template.Contains("Cutting Knowledge Date", StringComparison.Ordinal))
            {
                var fixedDate = LlamaDate().Match(template);
                date = fixedDate.Success ? fixedDate.Groups[1].Value : "26 Jul 2024";
            }
            return new ChatTemplate(ChatFormat.Llama3, bosToken, eosToken, null, date, false);
        }
        if (template.Contains("[INST]", StringComparison.Ordinal) && template.Contains("[/INST]", StringComparison.Ordinal))
        {
            if (template.Contains("<<SYS>>", StringComparison.Ordinal))
                throw Unsupported("the Llama 2 chat format ([INST] with <<SYS>> system blocks)");
            return new ChatTemplate(ChatFormat.MistralInst, bosToken, eosToken, null, null, false);
        }
        if (template.Contains("<|user|>", StringComparison.Ordinal) && template.Contains("<|end|>", StringComparison.Ordinal))
            return new ChatTemplate(ChatFormat.Phi3, bosToken, eosToken, null, null, template.Contains("bos_token", StringComparison.Ordinal));
        if (template.Contains("<start_of_turn>", StringComparison.Ordinal)) throw Unsupported("the Gemma chat format (<start_of_turn>)");
        if (template.Contains("<|user|>", StringComparison.Ordinal)) throw Unsupported("the Zephyr chat format (<|user|> ending in the end-of-text token)");
        if (template.Contains("### Instruction", StringComparison.Ordinal)) throw Unsupported("an Alpaca-style ### Instruction format");
        throw Unsupported("a chat template SLM Studio does not recognise");
    }

    private static UnsupportedModelException Unsupported(string what) =>
        new($"This model's chat template uses {what}. SLM Studio renders the chat formats of Qwen2 and SmolLM2 (ChatML), Llama 3, Mistral ([INST]) and Phi-3; fine-tune this model as plain text, or pick one of those models.");

    /// <summary>The prompt text for <paramref name="messages"/>; with <paramref name="addGenerationPrompt"/>, ending
    /// where the assistant's reply begins. Roles the format cannot express are refused with the reason.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        foreach (var m in messages)
        {
            if (m.Role is not ("system" or "user" or "assistant"))
                throw new EngineException($"A chat message has the role '{m.Role}'; use system, user or assistant.");
        }
        return Format switch
        {
            ChatFormat.ChatMl => RenderChatMl(messages, addGenerationPrompt),
            ChatFormat.Llama3 => RenderLlama3(messages, addGenerationPrompt),
            ChatFormat.MistralInst => RenderMistral(messages),
            _ => RenderPhi3(messages, addGenerationPrompt),
        };
    }

    private string RenderChatMl(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var sb = new StringBuilder();
        if (DefaultSystemPrompt is not null && messages.Count > 0 && messages[0].Role != "system")
            sb.Append("<|im_start|>system\n").Append(DefaultSystemPrompt).Append("<|im_end|>\n");
        foreach (var m in messages) sb.Append("<|im_start|>").Append(m.Role).Append('\n').Append(m.Content).Append("<|im_end|>\n");
        if (addGenerationPrompt) sb.Append("<|im_start|>assistant\n");
        return sb.ToString();
    }

    private string RenderLlama3(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var sb = new StringBuilder(_bos);
        void Turn(string role, string content) =>
            sb.Append("<|start_header_id|>").Append(role).Append("<|end_header_id|>\n\n").Append(content.Trim()).Append("<|eot_id|>");
        var rest = messages;
        if (_llamaDate is not null)
        {
            // Llama 3.1/3.2 always open with a system turn carrying the knowledge cut-off and a date.
            var system = messages.Count > 0 && messages[0].Role == "system" ? messages[0].Content.Trim() : "";
            sb.Append("<|start_header_id|>system<|end_header_id|>\n\n")
              .Append("Cutting Knowledge Date: December 2023\nToday Date: ").Append(_llamaDate).Append("\n\n")
              .Append(system).Append("<|eot_id|>");
            if (messages.Count > 0 && messages[0].Role == "system") rest = [.. messages.Skip(1)];
        }
        foreach (var m in rest) Turn(m.Role, m.Content);
        if (addGenerationPrompt) sb.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        return sb.ToString();
    }

    private string RenderMistral(IReadOnlyList<ChatMessage> messages)
    {
        // The system prompt, which [INST] cannot express, goes before the first user message, as Mistral's own templates do.
        string? system = messages.Count > 0 && messages[0].Role == "system" ? messages[0].Content : null;
        var turns = system is null ? messages : [.. messages.Skip(1)];
        var sb = new StringBuilder(_bos);
        for (int i = 0; i < turns.Count; i++)
        {
            var expected = i % 2 == 0 ? "user" : "assistant";
            if (turns[i].Role != expected)
                throw new EngineException("The Mistral chat format needs the conversation to alternate user / assistant / user / …, starting with the user (a system message may come first).");
            if (expected == "user")
                sb.Append("[INST] ").Append(i == 0 && system is not null ? system + "\n\n" + turns[i].Content : turns[i].Content).Append(" [/INST]");
            else sb.Append(turns[i].Content).Append(_eos);
        }
        return sb.ToString();
    }

    private string RenderPhi3(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var sb = new StringBuilder(_phiBos ? _bos : "");
        foreach (var m in messages) sb.Append("<|").Append(m.Role).Append("|>\n").Append(m.Content).Append("<|end|>\n");
        sb.Append(addGenerationPrompt ? "<|assistant|>\n" : _eos);
        return sb.ToString();
    }

    private static string Unescape(string jinjaString) => jinjaString.Replace("\\n", "\n", StringComparison.Ordinal).Replace("\\'", "'", StringComparison.Ordinal);

    // The fixed system turn a ChatML template writes when the conversation has none, e.g.
    // '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n'.
    [GeneratedRegex(@"'<\|im_start\|>system\\n((?:[^'\\]|\\.)+?)<\|im_end\|>\\n'")]
    private static partial Regex ChatMlDefaultSystem();

    // {%- set date_string = "26 Jul 2024" %} in Llama 3.1/3.2 templates.
    [GeneratedRegex(@"set\s+date_string\s*=\s*[""']([^""']+)[""']")]
    private static partial Regex LlamaDate();
}
