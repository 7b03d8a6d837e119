using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Services;

/// <summary>
/// One shared ONNX session per registered version (opened on first use and checked against the hashes recorded at
/// registration), so any number of playground users generate from the same loaded model at once; and a queue per
/// model that lets a configured number of generations run at once (<see cref="EnterAsync"/>).
/// </summary>
public sealed class ModelGeneration(ModelRegistry registry, IOptions<StudioOptions> options, TimeProvider clock, ILogger<ModelGeneration> logger) : IDisposable
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
    private readonly ConcurrentDictionary<int, ConcurrencyLimiter> _queues = new();

    /// <summary>
    /// The version's generator, loaded once and shared. A file the cached model was loaded from that changed on disk
    /// since (its time or size) is hashed again; when it no longer matches, the model is loaded again from scratch,
    /// which refuses files that are not the registered ones with <see cref="TamperedArtifactException"/>.
    /// </summary>
    public async Task<TextGenerator> GetAsync(ModelVersion version)
    {
        var lazy = _generators.GetOrAdd(version.Id, _ => new Lazy<Task<TextGenerator>>(() => LoadAsync(version)));
        TextGenerator generator;
        try { generator = await lazy.Value; }
        catch
        {
            // A failed load (say, a tampered file) is not cached: the next request tries again and reports again.
            _generators.TryRemove(new KeyValuePair<int, Lazy<Task<TextGenerator>>>(version.Id, lazy));
            throw;
        }
        if (!generator.Artifact.FilesChangedSinceOpened) return generator;
        try
        {
            generator.Artifact.VerifyUnchanged(); // touched but identical: keep the loaded model
            return generator;
        }
        catch (InvalidModelFileException e)
        {
            logger.LogWarning("A file of version {VersionId} changed after it was loaded ({Problem}); loading it again", version.Id, e.Message);
            // Not disposed here: a generation that is running now keeps its session; the collector frees it afterwards.
            _generators.TryRemove(new KeyValuePair<int, Lazy<Task<TextGenerator>>>(version.Id, lazy));
            return await GetAsync(version);
        }
    }

    private async Task<TextGenerator> LoadAsync(ModelVersion version)
    {
        logger.LogInformation("Loading version {VersionId} for generation", version.Id);
        // Every registered file against the database's hashes first (a damaged file must not even reach the parser),
        // then the loaded files are matched to them once more below, so a swap during loading is caught as well.
        await registry.EnsureIntactAsync(version, "loading");
        OnnxArtifact artifact;
        try { artifact = await Task.Run(() => OnnxArtifact.Open(registry.FolderOf(version))); }
        catch (InvalidModelFileException e)
        {
            // The loader's own message names server folders; people get the registry's, which names only files.
            logger.LogError("Version {VersionId} could not be loaded: {Problem}", version.Id, e.Message);
            var wrong = await Task.Run(() => registry.Verify(version));
            if (wrong.Count == 0) throw; // damaged in a way the registered hashes do not show: the loader's message says how
            throw await registry.RefuseAsync(version, "loading", wrong);
        }
        try { await registry.EnsureLoadedFilesAreRegisteredAsync(version, artifact); }
        catch { artifact.Dispose(); throw; }
        return new TextGenerator(artifact);
    }

    /// <summary>
    /// Waits for a turn to generate with the version: at most <see cref="StudioOptions.MaxConcurrentGenerationsPerModel"/>
    /// run at once, up to <see cref="StudioOptions.GenerationQueueLength"/> more wait (oldest first) for at most
    /// <see cref="StudioOptions.GenerationQueueSeconds"/>. <paramref name="waiting"/> hears how many are ahead when the
    /// caller has to wait. Dispose the returned turn when the generation ends.
    /// </summary>
    /// <exception cref="GenerationBusyException">The queue is full, or the wait took too long.</exception>
    public async Task<IDisposable> EnterAsync(int versionId, Action<int>? waiting = null, CancellationToken ct = default)
    {
        var settings = options.Value;
        var queue = _queues.GetOrAdd(versionId, _ => new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = settings.MaxConcurrentGenerationsPerModel,
            QueueLimit = settings.GenerationQueueLength,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        }));
        var lease = queue.AttemptAcquire();
        if (!lease.IsAcquired)
        {
            lease.Dispose();
            var stats = queue.GetStatistics();
            var ahead = (int)stats!.CurrentQueuedCount + settings.MaxConcurrentGenerationsPerModel - (int)stats.CurrentAvailablePermits;
            var retryAfter = TimeSpan.FromSeconds(Math.Min(settings.GenerationQueueSeconds, 10));
            if (stats.CurrentQueuedCount >= settings.GenerationQueueLength)
                throw new GenerationBusyException($"This model is busy: {ahead:N0} requests are running or waiting, the most it takes. Try again in a few seconds.", retryAfter, queueFull: true);
            waiting?.Invoke(ahead);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(settings.GenerationQueueSeconds), clock);
            using var both = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
            try
            {
                var turn = queue.AcquireAsync(1, both.Token); // queued from here on
                Queued?.Invoke(versionId);
                lease = await turn;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new GenerationBusyException($"This model was busy for more than {settings.GenerationQueueSeconds:N0} seconds, so the request was given up. Try again in a moment.", retryAfter, queueFull: false);
            }
            if (!lease.IsAcquired)
            {
                lease.Dispose();
                throw new GenerationBusyException("This model is busy: its queue is full. Try again in a few seconds.", retryAfter, queueFull: true);
            }
        }
        return lease;
    }

    /// <summary>Raised with the version's id when a request has joined its queue (after the queue counts it).</summary>
    public event Action<int>? Queued;

    /// <summary>Generations running and waiting for the version now (for pages and tests).</summary>
    public (long Running, long Waiting) QueueOf(int versionId) =>
        _queues.TryGetValue(versionId, out var q) && q.GetStatistics() is { } s
            ? (options.Value.MaxConcurrentGenerationsPerModel - s.CurrentAvailablePermits, s.CurrentQueuedCount)
            : (0, 0);

    /// <summary>
    /// Scores goal tests with the playground's default decoding (medium creativity), because that is what users will
    /// see; greedy decoding makes small models loop ("the the the") and judged them on text nobody is shown. A fixed
    /// seed keeps the verdict the same every time.
    /// </summary>
    public static async Task<List<GoalResult>> RunGoalTestsAsync(TextGenerator generator, IEnumerable<GoalTest> tests, CancellationToken ct)
    {
        var (temperature, topK, topP) = CreativitySettings.For(Creativity.Medium);
        var settings = new GenerationSettings(48, temperature, topK, topP, Seed: GoalTestSeed);
        var results = new List<GoalResult>();
        foreach (var test in tests)
        {
            var text = new System.Text.StringBuilder();
            await foreach (var token in generator.GenerateAsync(test.Prompt, settings, ct)) text.Append(token.Text);
            var continuation = PrintableText.Of(text.ToString());
            results.Add(new GoalResult(test.Prompt, test.MustContain,
                continuation.Contains(test.MustContain.Trim(), StringComparison.OrdinalIgnoreCase), test.Prompt + continuation));
        }
        return results;
    }

    private const int GoalTestSeed = 20261201;

    public void Dispose()
    {
        foreach (var lazy in _generators.Values)
            if (lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully) lazy.Value.Result.Artifact.Dispose();
        foreach (var queue in _queues.Values) queue.Dispose();
    }
}

/// <summary>A model had no room for another generation; <see cref="RetryAfter"/> is a fair time to try again.</summary>
public sealed class GenerationBusyException(string message, TimeSpan retryAfter, bool queueFull) : Exception(message)
{
    public TimeSpan RetryAfter { get; } = retryAfter;
    /// <summary>True when the queue was full at once (HTTP 429); false when the wait timed out (HTTP 503).</summary>
    public bool QueueFull { get; } = queueFull;
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
