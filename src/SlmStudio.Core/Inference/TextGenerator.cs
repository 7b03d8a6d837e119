using System.Runtime.CompilerServices;

namespace SlmStudio.Core.Inference;

/// <summary>How to generate. Temperature 0 (or below) is greedy; TopK 0 and TopP 1 switch those filters off;
/// RepetitionPenalty 1 is none (Hugging Face's rule: positive logits of already seen tokens divided, negative multiplied).</summary>
public sealed record GenerationSettings(
    int MaxNewTokens = 100,
    double Temperature = 0.8,
    int TopK = 40,
    double TopP = 0.95,
    double RepetitionPenalty = 1.1,
    int? Seed = null,
    IReadOnlyList<string>? StopSequences = null,
    IReadOnlyList<int>? StopTokenIds = null)
{
    /// <summary>Greedy decoding without penalty: the model's single most likely continuation.</summary>
    public static GenerationSettings Greedy(int maxNewTokens = 100) => new(maxNewTokens, Temperature: 0, TopK: 0, TopP: 1, RepetitionPenalty: 1);

    public void Validate()
    {
        if (MaxNewTokens < 0) throw new EngineException("The number of new tokens cannot be negative.");
        if (double.IsNaN(Temperature) || Temperature > 100) throw new EngineException("Temperature must be between 0 (greedy) and 100.");
        if (TopK < 0) throw new EngineException("Top-k cannot be negative (0 switches it off).");
        if (!(TopP > 0 && TopP <= 1)) throw new EngineException("Top-p must be above 0 and at most 1 (1 switches it off).");
        if (!(RepetitionPenalty > 0 && RepetitionPenalty <= 10)) throw new EngineException("The repetition penalty must be above 0 and at most 10 (1 means none).");
        if (StopSequences?.Any(string.IsNullOrEmpty) == true) throw new EngineException("Stop sequences cannot be empty.");
    }
}

/// <summary>One generated token: its id, the text it adds (may be empty while a multi-byte character or a possible stop
/// sequence is incomplete), and the model's probability of it (softmax of the raw logits, before temperature, penalty
/// and filtering: how sure the model itself was).</summary>
public sealed record GeneratedToken(int Id, string Text, float Probability);

/// <summary>The full outcome for one prompt of a batch. FinishReason: "eos", "stop" (stop sequence), "length" (max new
/// tokens) or "context" (the model's context length is full).</summary>
public sealed record GenerationResult(string Prompt, string Text, IReadOnlyList<GeneratedToken> Tokens, string FinishReason);

/// <summary>
/// Prompt to tokens on ONNX Runtime with the KV cache. Stateless apart from the shared artifact, so one instance serves
/// any number of concurrent requests.
/// </summary>
public sealed class TextGenerator(OnnxArtifact artifact)
{
    public OnnxArtifact Artifact => artifact;

    /// <summary>Streams the continuation of <paramref name="prompt"/> token by token. An empty prompt starts from the
    /// beginning-of-text token. Requests that overlap in time share decoder calls (<see cref="GenerationBatcher"/>), and
    /// each gets the tokens it would get alone.</summary>
    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(string prompt, GenerationSettings settings, [EnumeratorCancellation] CancellationToken ct = default)
    {
        settings.Validate();
        await foreach (var token in artifact.Batcher.GenerateAsync(Encode(prompt), settings, ct).ConfigureAwait(false)) yield return token;
    }

    /// <summary>Generates for several prompts at once, each whole with why it ended; they run in the lanes of
    /// <see cref="GenerationBatcher"/> beside every other generation of the artifact.</summary>
    public async Task<IReadOnlyList<GenerationResult>> GenerateBatchAsync(IReadOnlyList<string> prompts, GenerationSettings settings, CancellationToken ct = default)
    {
        settings.Validate();
        var runs = await Task.WhenAll(prompts.Select(p => artifact.Batcher.CompleteAsync(Encode(p), settings, ct))).ConfigureAwait(false);
        return prompts.Select((p, i) => new GenerationResult(p, string.Concat(runs[i].Tokens.Select(t => t.Text)), runs[i].Tokens, runs[i].FinishReason)).ToList();
    }

    /// <summary>Token ids of a prompt, beginning-of-text first where the tokenizer adds it; an empty prompt is just that token.</summary>
    public int[] Encode(string prompt)
    {
        if (string.IsNullOrEmpty(prompt)) return [artifact.BeginningOfTextId];
        var ids = artifact.Tokenizer.Encode(prompt, addSpecialTokens: true);
        return ids.Length > 0 ? ids : [artifact.BeginningOfTextId];
    }
}
