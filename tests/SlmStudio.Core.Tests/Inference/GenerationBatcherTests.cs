using SlmStudio.Core.Inference;
using SlmStudio.Core.Tests.Export;

namespace SlmStudio.Core.Tests.Inference;

/// <summary>
/// Continuous batching: requests that join a running batch at different steps, wait for room, leave early or are
/// cancelled each get exactly the tokens they get alone.
/// </summary>
public sealed class GenerationBatcherTests(OnnxTestModels.TinyArtifact tiny) : IClassFixture<OnnxTestModels.TinyArtifact>
{
    /// <summary>The tokens of one prompt run on its own, as a fixed batch of one.</summary>
    private static List<GeneratedToken> Alone(OnnxArtifact artifact, int[] prompt, GenerationSettings settings)
    {
        using var run = new GenerationRun(artifact, [prompt], settings);
        var tokens = new List<GeneratedToken>();
        while (!run.Done) tokens.AddRange(run.Step().Select(e => e.Token));
        return tokens;
    }

    /// <summary>Reads a stream to its end; <paramref name="started"/> is set once <paramref name="after"/> tokens have come.</summary>
    private static async Task<List<GeneratedToken>> Read(IAsyncEnumerable<GeneratedToken> stream, TaskCompletionSource started, int after = 1, CancellationTokenSource? cancelAfter = null)
    {
        var tokens = new List<GeneratedToken>();
        try
        {
            await foreach (var token in stream)
            {
                tokens.Add(token);
                if (tokens.Count == after)
                {
                    started.TrySetResult();
                    cancelAfter?.Cancel();
                }
            }
        }
        finally
        {
            started.TrySetResult(); // a stream shorter than `after` must not hold the test up
        }
        return tokens;
    }

    [Fact]
    public async Task RequestsJoiningAndLeavingARunningBatchGetTheTokensTheyGetAlone()
    {
        using var artifact = OnnxArtifact.Open(tiny.ArtifactDir);
        var generator = new TextGenerator(artifact);
        var context = artifact.Config.MaxPositions;
        var longPrompt = string.Join(" ", Enumerable.Repeat("the cat and the win", 40));
        Assert.True(generator.Encode(longPrompt).Length > context);
        var requests = new (string Prompt, GenerationSettings Settings)[]
        {
            ("the cat and the win", GenerationSettings.Greedy(40)),
            ("a", new GenerationSettings(MaxNewTokens: 60, Temperature: 1.2, TopK: 30, TopP: 0.95, RepetitionPenalty: 1.1, Seed: 3)),
            (longPrompt, GenerationSettings.Greedy(30)),  // fills the context at once and leaves
            ("the dog", new GenerationSettings(MaxNewTokens: 5, Seed: 11)),
            ("", GenerationSettings.Greedy(25)),
            ("the win and", new GenerationSettings(MaxNewTokens: 50, Temperature: 0.9, TopK: 0, TopP: 0.8, RepetitionPenalty: 1.3, Seed: 5)),
        };
        var expected = requests.Select(r => Alone(artifact, GenerationRow.FitToContext(generator.Encode(r.Prompt), context), r.Settings)).ToList();
        Assert.Contains(expected, e => e.Count >= 30); // some run long enough for others to join and leave around them

        // One lane of at most three: the first three join one by one while the batch runs; the rest wait for room.
        var batcher = new GenerationBatcher(artifact, lanes: 1, maxBatch: 3);
        var reads = new List<Task<List<GeneratedToken>>>();
        foreach (var (prompt, settings) in requests)
        {
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            reads.Add(Read(batcher.GenerateAsync(generator.Encode(prompt), settings), started, after: 3));
            await started.Task.WaitAsync(TimeSpan.FromMinutes(1));
        }
        var results = await Task.WhenAll(reads).WaitAsync(TimeSpan.FromMinutes(2));
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(expected[i].Select(t => t.Id), results[i].Select(t => t.Id));
            Assert.Equal(string.Concat(expected[i].Select(t => t.Text)), string.Concat(results[i].Select(t => t.Text)));
        }
    }

    [Fact]
    public async Task ManyAtOnceAcrossLanesAndACancelledOneLeaveTheOthersAlone()
    {
        using var artifact = OnnxArtifact.Open(tiny.ArtifactDir);
        var generator = new TextGenerator(artifact);
        string[] prompts = ["the cat", "a", "the dog and the", "win", "the", "cat cat", "and the win", "dog"];
        var settings = new GenerationSettings(MaxNewTokens: 24, Temperature: 1.0, TopK: 40, TopP: 0.95, RepetitionPenalty: 1.1, Seed: 21);
        var expected = prompts.Select(p => Alone(artifact, generator.Encode(p), settings)).ToList();

        var batcher = new GenerationBatcher(artifact, lanes: 2, maxBatch: 3);
        using var cancel = new CancellationTokenSource();
        var cancelled = Read(batcher.GenerateAsync(generator.Encode("the cat and the win"), GenerationSettings.Greedy(80), cancel.Token),
            new TaskCompletionSource(), after: 2, cancelAfter: cancel);
        var reads = prompts.Select(p => Read(batcher.GenerateAsync(generator.Encode(p), settings), new TaskCompletionSource())).ToList();
        var results = await Task.WhenAll(reads).WaitAsync(TimeSpan.FromMinutes(2));
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(expected[i].Select(t => t.Id), results[i].Select(t => t.Id));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(TimeSpan.FromMinutes(1)));

        // A later request is served the same whether a lane is still winding down or a new one starts for it.
        var again = await Read(batcher.GenerateAsync(generator.Encode(prompts[0]), settings), new TaskCompletionSource());
        Assert.Equal(expected[0].Select(t => t.Id), again.Select(t => t.Id));
    }

    [Fact]
    public void TheArtifactsBatcherHasALanePerCoreForAOneThreadModel()
    {
        using var artifact = OnnxArtifact.Open(tiny.ArtifactDir);
        Assert.Equal(1, artifact.Decoder.ThreadsPerCall);
        Assert.Equal(Math.Max(1, Environment.ProcessorCount), artifact.Batcher.Lanes);
        Assert.Equal(GenerationBatcher.DefaultMaxBatch, artifact.Batcher.MaxBatch);
    }
}
