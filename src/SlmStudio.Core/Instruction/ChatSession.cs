using System.Runtime.CompilerServices;
using System.Text;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Instruction;

/// <summary>
/// A multi-turn chat with an exported chat model (an ONNX artifact with a chat template): each user message is added to
/// the history, the whole conversation is rendered in the model's template, and the answer streams out piece by piece,
/// ending at the end-of-turn token; template tokens are never part of the text. The answer joins the history when it
/// is complete, so the next message continues the conversation. One session per conversation (not thread-safe); any
/// number of sessions can share one <see cref="OnnxArtifact"/>.
/// <code>
/// using var artifact = OnnxArtifact.Open(folder);
/// var chat = new ChatSession(artifact);
/// await foreach (var piece in chat.SendAsync("How many days of leave do I get?")) Console.Write(piece);
/// </code>
/// </summary>
public sealed class ChatSession
{
    private readonly OnnxArtifact _artifact;
    private readonly InstructionTemplate _template;
    private readonly List<ChatMessage> _history = [];

    /// <param name="systemPrompt">An optional instruction that opens the conversation (kept when history is trimmed).</param>
    /// <param name="settings">How to generate; greedy with at most <see cref="DefaultMaxNewTokens"/> new tokens when null.</param>
    public ChatSession(OnnxArtifact artifact, string? systemPrompt = null, GenerationSettings? settings = null)
    {
        _artifact = artifact;
        _template = InstructionTemplate.Load(artifact.Directory, artifact.Tokenizer)
                    ?? throw new EngineException($"The model in {artifact.Directory} has no chat template, so it was not trained to answer questions. Train it with the \"Answer questions\" use case (slm train --task chat), or use it to continue text instead.");
        SystemPrompt = string.IsNullOrWhiteSpace(systemPrompt) ? null : systemPrompt.Trim();
        var given = settings ?? GenerationSettings.Greedy(DefaultMaxNewTokens);
        Settings = given with
        {
            StopTokenIds = [.. _template.EndOfTurnIds(artifact.Tokenizer), .. given.StopTokenIds ?? []],
            StopSequences = [.. _template.StopSequences, .. given.StopSequences ?? []],
        };
        if (Settings.StopSequences is { Count: 0 }) Settings = Settings with { StopSequences = null };
    }

    public const int DefaultMaxNewTokens = 256;

    /// <summary>True when <paramref name="artifactDir"/>'s manifest says it is a chat model (or its tokenizer_config.json has a chat template).</summary>
    public static bool IsChatArtifact(string artifactDir)
    {
        try
        {
            if (ArtifactManifest.Load(artifactDir).Task == InstructionRunFolder.Task) return true;
        }
        catch (Exception e) when (e is EngineException or IOException or System.Text.Json.JsonException)
        {
            return false;
        }
        var config = Path.Combine(artifactDir, "tokenizer_config.json");
        return File.Exists(config) && File.ReadAllText(config).Contains("\"chat_template\"", StringComparison.Ordinal);
    }

    public string? SystemPrompt { get; }
    public GenerationSettings Settings { get; }
    public InstructionTemplateKind TemplateKind => _template.Kind;

    /// <summary>The conversation so far: user and assistant messages in order (the system prompt is not included).</summary>
    public IReadOnlyList<ChatMessage> History => _history;

    /// <summary>Forgets the conversation (the system prompt stays).</summary>
    public void Reset() => _history.Clear();

    /// <summary>
    /// Sends <paramref name="userMessage"/> and streams the answer's text. The answer is added to <see cref="History"/>
    /// when the stream ends; a cancelled answer keeps what was streamed so far.
    /// </summary>
    public async IAsyncEnumerable<string> SendAsync(string userMessage, [EnumeratorCancellation] CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(userMessage)) throw new EngineException("The message is empty; type a question.");
        _history.Add(new ChatMessage("user", userMessage.Trim()));
        var answer = new StringBuilder();
        try
        {
            var leading = true;
            await foreach (var token in _artifact.Batcher.GenerateAsync(PromptIds(), Settings, ct).ConfigureAwait(false))
            {
                var text = token.Text;
                // The template's newline after "assistant" is sometimes generated as part of the first token.
                if (leading) { text = text.TrimStart(); leading = text.Length == 0; }
                if (text.Length == 0) continue;
                answer.Append(text);
                yield return text;
            }
        }
        finally
        {
            _history.Add(new ChatMessage("assistant", ChatText.Clean(answer.ToString(), _template)));
        }
    }

    /// <summary>Sends <paramref name="userMessage"/> and returns the whole answer.</summary>
    public async Task<string> AskAsync(string userMessage, CancellationToken ct = default)
    {
        await foreach (var _ in SendAsync(userMessage, ct).ConfigureAwait(false)) { }
        return _history[^1].Content;
    }

    /// <summary>The one answer to a conversation given in full (no history kept): what evaluation asks.</summary>
    public static string Answer(OnnxArtifact artifact, IReadOnlyList<ChatMessage> prompt, GenerationSettings? settings = null)
    {
        var turns = prompt.Where(m => m.Role != "system").ToList();
        if (turns.Count == 0 || turns[^1].Role != "user") throw new EngineException("The conversation must end with a user message.");
        var session = new ChatSession(artifact, prompt.FirstOrDefault(m => m.Role == "system")?.Content, settings);
        session._history.AddRange(turns.SkipLast(1));
        return session.AskAsync(turns[^1].Content).GetAwaiter().GetResult();
    }

    /// <summary>The prompt ids of the history; the oldest turns are left out while it would not leave room for an answer.</summary>
    private int[] PromptIds()
    {
        var context = _artifact.Config.MaxPositions;
        var room = Math.Min(Settings.MaxNewTokens, context / 2);
        var start = 0;
        while (true)
        {
            var messages = (SystemPrompt is null ? [] : new List<ChatMessage> { new("system", SystemPrompt) }).Concat(_history.Skip(start)).ToList();
            var ids = _template.PromptIds(_artifact.Tokenizer, messages);
            if (ids.Length + room <= context || start >= _history.Count - 1) return ids;
            start += 2; // one user message and its answer
        }
    }
}
