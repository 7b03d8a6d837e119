using System.Collections.Concurrent;
using SlmStudio.Core.Inference;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Services;

/// <summary>
/// One shared, hash-verified ONNX session per registered version (opened on first use), so any number of playground
/// users generate from the same loaded model at once.
/// </summary>
public sealed class ModelGeneration(ModelRegistry registry, ILogger<ModelGeneration> logger) : IDisposable
{
    /// <summary>The most new tokens one request may ask for: the playground slider's limit, held here for every caller.</summary>
    public const int MaxNewTokens = 500;
    /// <summary>The longest prompt accepted, in characters; a longer one would not fit a small model's context anyway.</summary>
    public const int MaxPromptCharacters = 8000;

    /// <summary>
    /// The settings a request may use: new tokens clamped to 1..<see cref="MaxNewTokens"/>, whatever a browser sent.
    /// </summary>
    public static GenerationSettings Clamp(GenerationSettings settings) =>
        settings with { MaxNewTokens = Math.Clamp(settings.MaxNewTokens, 1, MaxNewTokens) };

    /// <summary>
    /// Refuses, in plain words, a prompt too long to send or to fit the model's context with room for an answer;
    /// returns null when it fits.
    /// </summary>
    public static string? PromptProblem(TextGenerator generator, string prompt)
    {
        if (prompt.Length > MaxPromptCharacters)
            return $"The text is {prompt.Length:N0} characters long; the playground takes at most {MaxPromptCharacters:N0}. Shorten it and try again.";
        int context = generator.Artifact.Config.MaxPositions;
        int tokens = generator.Encode(prompt).Length;
        return tokens >= context
            ? $"The text is {tokens:N0} tokens long, but this model reads at most {context:N0} at a time (and needs room to write). Shorten it to well under {context:N0} tokens."
            : null;
    }

    /// <summary>The new tokens that fit after <paramref name="prompt"/> in the model's context, at most <paramref name="wanted"/>.</summary>
    public static int RoomAfter(TextGenerator generator, string prompt, int wanted) =>
        Math.Max(1, Math.Min(wanted, generator.Artifact.Config.MaxPositions - generator.Encode(prompt).Length));

    private readonly ConcurrentDictionary<int, Lazy<Task<TextGenerator>>> _generators = new();

    public Task<TextGenerator> GetAsync(ModelVersion version)
    {
        var lazy = _generators.GetOrAdd(version.Id, _ => new Lazy<Task<TextGenerator>>(() => Task.Run(() =>
        {
            logger.LogInformation("Loading version {VersionId} for generation", version.Id);
            return new TextGenerator(OnnxArtifact.Open(registry.FolderOf(version)));
        })));
        var task = lazy.Value;
        // A failed load (say, a tampered file) is not cached: the next request tries again and reports again.
        if (task.IsFaulted) _generators.TryRemove(version.Id, out _);
        return task;
    }

    /// <summary>Scores goal tests with greedy decoding, so the verdict is the same every time.</summary>
    public static async Task<List<GoalResult>> RunGoalTestsAsync(TextGenerator generator, IEnumerable<GoalTest> tests, CancellationToken ct)
    {
        var results = new List<GoalResult>();
        foreach (var test in tests)
        {
            var text = new System.Text.StringBuilder();
            await foreach (var token in generator.GenerateAsync(test.Prompt, GenerationSettings.Greedy(48), ct)) text.Append(token.Text);
            var continuation = text.ToString();
            results.Add(new GoalResult(test.Prompt, test.MustContain,
                continuation.Contains(test.MustContain.Trim(), StringComparison.OrdinalIgnoreCase), test.Prompt + continuation));
        }
        return results;
    }

    public void Dispose()
    {
        foreach (var lazy in _generators.Values)
            if (lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully) lazy.Value.Result.Artifact.Dispose();
    }
}

/// <summary>How adventurous the playground's text is; one control for people who do not know sampling.</summary>
public enum Creativity { Low, Medium, High }

public static class CreativitySettings
{
    /// <summary>
    /// Low is greedy (the same text every time: the model's best guess), medium a common default for small models,
    /// high lets less likely words through. Temperature, top-k and top-p stay adjustable under "Advanced".
    /// </summary>
    public static (double Temperature, int TopK, double TopP) For(Creativity creativity) => creativity switch
    {
        Creativity.Low => (0.0, 0, 1.0),
        Creativity.Medium => (0.7, 40, 0.9),
        Creativity.High => (1.1, 100, 0.98),
        _ => throw new ArgumentOutOfRangeException(nameof(creativity)),
    };

    public static string Describe(Creativity creativity) => creativity switch
    {
        Creativity.Low => "Low: always the model's most likely words, the same text every time",
        Creativity.Medium => "Medium: natural variety",
        _ => "High: surprising, more mistakes",
    };
}
