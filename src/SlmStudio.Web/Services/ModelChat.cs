using SlmStudio.Core;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Instruction;
using SlmStudio.Core.Tokenization;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Services;

/// <summary>
/// Conversations with "Answer questions" versions, on the same shared, hash-verified ONNX sessions the playground writes
/// with (<see cref="ModelGeneration"/>): one loaded model per version, any number of conversations over it.
/// </summary>
public sealed class ModelChat(ModelGeneration generation)
{
    /// <summary>The longest message accepted, in characters (a small model's context holds far less anyway).</summary>
    public const int MaxMessageCharacters = 4000;
    /// <summary>The most messages one API request may send.</summary>
    public const int MaxMessages = 64;
    public static readonly IReadOnlySet<string> Roles = new HashSet<string> { "system", "user", "assistant" };

    /// <summary>A new conversation with the version; throws <see cref="UserFacingException"/> when it cannot chat.</summary>
    public async Task<ChatSession> StartAsync(ModelVersion version, string? systemPrompt = null, int maxNewTokens = ChatSession.DefaultMaxNewTokens)
    {
        OnnxArtifact artifact;
        try { artifact = (await generation.GetAsync(version)).Artifact; }
        catch (EngineException e) { throw new UserFacingException($"This model version cannot be used: {e.Message}"); }
        try { return new ChatSession(artifact, systemPrompt, GenerationSettings.Greedy(Math.Clamp(maxNewTokens, 1, ModelGeneration.MaxNewTokens))); }
        catch (EngineException e) { throw new UserFacingException(e.Message); }
    }

    /// <summary>The answer to the last user message of <paramref name="messages"/> (earlier turns and an optional system
    /// message give the context); the messages are checked first and refused in plain words.</summary>
    public async Task<string> AnswerAsync(ModelVersion version, IReadOnlyList<ChatMessage> messages, int? maxNewTokens, CancellationToken ct = default)
    {
        if (Problem(messages) is { } problem) throw new UserFacingException(problem);
        OnnxArtifact artifact;
        try { artifact = (await generation.GetAsync(version)).Artifact; }
        catch (EngineException e) { throw new UserFacingException($"This model version cannot be used: {e.Message}"); }
        var settings = GenerationSettings.Greedy(Math.Clamp(maxNewTokens ?? ChatSession.DefaultMaxNewTokens, 1, ModelGeneration.MaxNewTokens));
        try { return await Task.Run(() => ChatSession.Answer(artifact, [.. messages.Select(m => m with { Content = m.Content.Trim() })], settings), ct); }
        catch (EngineException e) { throw new UserFacingException(e.Message); }
    }

    /// <summary>What is wrong with a conversation sent to the API, in plain words; null when it can be answered.</summary>
    public static string? Problem(IReadOnlyList<ChatMessage> messages)
    {
        if (messages.Count == 0) return "Send at least one message: {\"messages\": [{\"role\": \"user\", \"content\": \"your question\"}]}.";
        if (messages.Count > MaxMessages) return $"At most {MaxMessages} messages can be sent at once; leave out the oldest turns.";
        if (messages.FirstOrDefault(m => !Roles.Contains(m.Role)) is { } odd)
            return $"A message has the role '{odd.Role}'; use \"system\", \"user\" or \"assistant\".";
        if (messages.Any(m => string.IsNullOrWhiteSpace(m.Content))) return "A message is empty; give every message some content.";
        if (messages.FirstOrDefault(m => m.Content.Length > MaxMessageCharacters) is { } tooLong)
            return $"A message is {tooLong.Content.Length:N0} characters long; at most {MaxMessageCharacters:N0} are accepted.";
        if (messages[^1].Role != "user") return "The last message must be the user's question (role \"user\").";
        return null;
    }
}
