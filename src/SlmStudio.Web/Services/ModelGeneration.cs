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
