using System.Collections.Concurrent;
using SlmStudio.Core;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Inference;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Services;

/// <summary>One text's labels, most likely first.</summary>
public sealed record ClassifiedText(string Text, IReadOnlyList<RankedLabel> Labels)
{
    public RankedLabel Top => Labels[0];
}

/// <summary>
/// Registered classifier versions opened for use (the playground, batch files and <c>POST /api/projects/{id}/classify</c>):
/// one ONNX Runtime session per version, shared, checked against its manifest when it is opened.
/// </summary>
public sealed class ModelClassification(ModelRegistry registry, ILogger<ModelClassification> logger) : IDisposable
{
    /// <summary>Texts longer than this are refused rather than cut silently (the model reads only its first tokens anyway).</summary>
    public const int MaxTextCharacters = 20_000;
    /// <summary>At most this many texts in one request of the API.</summary>
    public const int MaxTextsPerRequest = 256;

    private readonly ConcurrentDictionary<int, Lazy<Task<OnnxClassifier>>> _classifiers = new();

    public Task<OnnxClassifier> GetAsync(ModelVersion version)
    {
        var lazy = _classifiers.GetOrAdd(version.Id, _ => new Lazy<Task<OnnxClassifier>>(() => Task.Run(() =>
        {
            logger.LogInformation("Loading version {VersionId} for classification", version.Id);
            return OnnxClassifier.Open(registry.FolderOf(version));
        })));
        var task = lazy.Value;
        // A failed load (say, a tampered file) is not cached: the next request tries again and reports again.
        if (task.IsFaulted) _classifiers.TryRemove(version.Id, out _);
        return task;
    }

    /// <summary>Ranks the labels of each text; throws <see cref="UserFacingException"/> for input the model cannot take.</summary>
    public async Task<IReadOnlyList<ClassifiedText>> ClassifyAsync(ModelVersion version, IReadOnlyList<string> texts, CancellationToken ct = default)
    {
        if (texts.Count == 0) throw new UserFacingException("Give at least one text to sort.");
        if (texts.Count > MaxTextsPerRequest) throw new UserFacingException($"At most {MaxTextsPerRequest} texts can be sorted at once; send them in smaller groups (or upload a CSV file in the playground).");
        if (texts.FirstOrDefault(t => t.Length > MaxTextCharacters) is { } tooLong)
            throw new UserFacingException($"A text is {tooLong.Length:N0} characters long; at most {MaxTextCharacters:N0} are accepted. The model reads only the start of a text, so send the first part.");
        OnnxClassifier classifier;
        try { classifier = await GetAsync(version); }
        catch (EngineException e) { throw new UserFacingException($"This model version cannot be used: {e.Message}"); }
        var ranked = await Task.Run(() => classifier.Classify(texts, ct: ct), ct);
        return [.. texts.Select((t, i) => new ClassifiedText(t, ranked[i]))];
    }

    /// <summary>
    /// Classifies every row of an uploaded CSV or JSONL file and writes it back as CSV with <c>predicted_label</c> and
    /// <c>confidence</c> columns (<see cref="BatchClassification"/>); returns the number of rows.
    /// </summary>
    public async Task<int> ClassifyFileAsync(ModelVersion version, string inputPath, string textColumn, string outputPath, CancellationToken ct = default)
    {
        OnnxClassifier classifier;
        try { classifier = await GetAsync(version); }
        catch (EngineException e) { throw new UserFacingException($"This model version cannot be used: {e.Message}"); }
        try
        {
            return await Task.Run(() =>
            {
                var table = BatchClassification.ReadTable(inputPath, textColumn, ct);
                return BatchClassification.ClassifyToCsv(classifier, table, outputPath, ct: ct);
            }, ct);
        }
        catch (EngineException e) { throw new UserFacingException(e.Message); }
    }

    public void Dispose()
    {
        foreach (var lazy in _classifiers.Values)
            if (lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully) lazy.Value.Result.Dispose();
    }
}
