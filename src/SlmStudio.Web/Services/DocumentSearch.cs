using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Retrieval;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;

namespace SlmStudio.Web.Services;

/// <summary>A passage among its neighbours in the same file, for "show in context".</summary>
public sealed record PassageInContext(Passage Passage, IReadOnlyList<Passage> Before, IReadOnlyList<Passage> After, string DatasetId);

/// <summary>The model version that writes answers for a project, and whether it is the production one.</summary>
public sealed record AnswerModel(ModelVersion Version, bool IsProduction);

/// <summary>
/// "Ask our documents": searches the search index of a project's current dataset version and, when asked, has one
/// of the project's model versions write a cited answer from the passages found. One index is opened per dataset
/// version and shared by every request (Lucene's searcher is safe across threads); a damaged or missing index is
/// rebuilt by <see cref="DatasetSearch.Open"/> from the version's passages. With <see cref="UseSemanticSearch"/>
/// (setting <c>DocumentSearch:Semantic</c>, off by default) the project's answering model also encodes the passages
/// and the question, and both rankings are fused (<see cref="HybridSearch"/>); a project without a model is searched
/// by keywords alone.
/// </summary>
public sealed class DocumentSearch(
    IDbContextFactory<StudioDbContext> dbFactory,
    DataPreparation preparation,
    ModelRegistry registry,
    ModelGeneration generation,
    IConfiguration configuration,
    ILogger<DocumentSearch> logger) : IDisposable
{
    public const string SemanticSetting = "DocumentSearch:Semantic";

    /// <summary>
    /// Off unless the setting turns it on: on the handbook question set a small model's hidden states did not improve
    /// recall over BM25 (see the Retrieval README), and encoding every passage costs a pass of the model each.
    /// </summary>
    public bool UseSemanticSearch { get; set; } = configuration.GetValue<bool>(SemanticSetting);

    private readonly ConcurrentDictionary<int, Lazy<PassageEncoder>> _encoders = new();
    private readonly ConcurrentDictionary<string, Lazy<SemanticIndex>> _vectors = new(StringComparer.Ordinal);

    public const int MaxTop = 20;
    public const int MaxQuestionCharacters = 1000;
    /// <summary>Neighbours shown on each side of a passage in context.</summary>
    public const int ContextPassages = 3;

    public const string NoDatasetMessage =
        "This project has no frozen data yet, so there is nothing to search. Go to the project's Data step, upload its documents and freeze them.";

    private readonly ConcurrentDictionary<string, Lazy<SearchIndex>> _indexes = new(StringComparer.Ordinal);

    /// <summary>The project's current dataset version, or its newest one when the data changed since it was frozen; null when none.</summary>
    public async Task<DatasetVersionRecord?> DatasetOfAsync(int projectId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var project = await db.VisibleProjects().SingleOrDefaultAsync(p => p.Id == projectId, ct) ?? throw new ProjectNotFoundException(projectId);
        if (project.DatasetVersionId is { } id && await db.DatasetVersions.SingleOrDefaultAsync(d => d.Id == id, ct) is { } current) return current;
        return await db.DatasetVersions.Where(d => d.ProjectId == projectId).OrderByDescending(d => d.Id).FirstOrDefaultAsync(ct);
    }

    /// <summary>The shared index of a dataset version, opened (or rebuilt) on first use.</summary>
    public async Task<SearchIndex> IndexOfAsync(DatasetVersionRecord dataset)
    {
        var folder = preparation.FolderOf(dataset);
        var lazy = _indexes.GetOrAdd(folder, f => new Lazy<SearchIndex>(() => DatasetSearch.Open(f), LazyThreadSafetyMode.ExecutionAndPublication));
        try { return await Task.Run(() => lazy.Value); }
        catch (Exception e)
        {
            // Not cached: once the data is frozen again, the next question opens the index anew.
            _indexes.TryRemove(new KeyValuePair<string, Lazy<SearchIndex>>(folder, lazy));
            if (e is DatasetSearchUnavailableException unavailable) throw new UserFacingException(unavailable.Message);
            if (e is EngineException engine) throw new UserFacingException(engine.Message);
            logger.LogError(e, "Opening the search index of {Folder} failed", folder);
            throw new UserFacingException("The search index of this project's data could not be opened. Freeze the data again; if it keeps failing, ask your administrator to check the server log.");
        }
    }

    /// <summary>The best passages for <paramref name="question"/> in the project's documents.</summary>
    public async Task<SearchResults> SearchAsync(int projectId, string question, int top = 5, CancellationToken ct = default)
    {
        question = CheckQuestion(question);
        var dataset = await DatasetOfAsync(projectId, ct) ?? throw new UserFacingException(NoDatasetMessage);
        var index = await IndexOfAsync(dataset);
        top = Math.Clamp(top, 1, MaxTop);
        if (UseSemanticSearch && await AnswerModelAsync(projectId, ct) is { } model)
        {
            var (encoder, vectors) = await SemanticOfAsync(model.Version, preparation.FolderOf(dataset), index);
            return await Task.Run(() => HybridSearch.Search(index, vectors, encoder, question, top), ct);
        }
        return index.Search(question, top);
    }

    /// <summary>The encoder of a registered version (checked against its registered hashes first) and its vectors of a dataset version's passages, each made once and shared.</summary>
    private async Task<(PassageEncoder, SemanticIndex)> SemanticOfAsync(ModelVersion version, string datasetFolder, SearchIndex index)
    {
        // Checked before the weights are first read, not on every question: hashing a model's files takes seconds.
        if (!_encoders.ContainsKey(version.Id)) await registry.EnsureIntactAsync(version, "loading");
        var folder = registry.FolderOf(version);
        var encoderLazy = _encoders.GetOrAdd(version.Id, _ => new Lazy<PassageEncoder>(() => PassageEncoder.Open(folder), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            var encoder = await Task.Run(() => encoderLazy.Value);
            var vectorsFolder = DatasetSearch.SemanticFolder(datasetFolder, encoder.ModelKey);
            var vectorsLazy = _vectors.GetOrAdd(vectorsFolder, f => new Lazy<SemanticIndex>(() => SemanticIndex.OpenOrBuild(index, encoder, f), LazyThreadSafetyMode.ExecutionAndPublication));
            try { return (encoder, await Task.Run(() => vectorsLazy.Value)); }
            catch { _vectors.TryRemove(new KeyValuePair<string, Lazy<SemanticIndex>>(vectorsFolder, vectorsLazy)); throw; }
        }
        catch (EngineException e)
        {
            _encoders.TryRemove(new KeyValuePair<int, Lazy<PassageEncoder>>(version.Id, encoderLazy));
            throw new UserFacingException($"Searching by meaning with version {version.Number} failed: {e.Message} Turn off semantic search to search by keywords.");
        }
    }

    /// <summary>
    /// The files of the search index of the data <paramref name="version"/> was trained on, for its download: under
    /// <c>search-index/</c> the dataset version's <c>dataset.json</c>, <c>passages.jsonl</c> and <c>search-index/</c>
    /// folder, the layout <c>slm ask</c> reads. Every file is checked (and a missing or damaged index built again)
    /// first; the hashes go with each file so that the zip is checked while it is sent.
    /// </summary>
    public async Task<IReadOnlyList<ZipExtraFile>> SearchIndexFilesAsync(ModelVersion version, CancellationToken ct = default)
    {
        const string Root = "search-index/";
        if (version.DatasetVersionId is not { } datasetId)
            throw new UserFacingException($"Version {version.Number} was not trained on frozen data of this project, so there is no search index to include. Download it without the index.");
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var dataset = await db.DatasetVersions.SingleOrDefaultAsync(d => d.Id == datasetId, ct)
            ?? throw new UserFacingException($"The data version {datasetId} that version {version.Number} was trained on no longer exists. Download the model without the index.");
        var folder = preparation.FolderOf(dataset);
        return await Task.Run(() =>
        {
            try
            {
                // Opening checks every hash and builds a missing or damaged index again from the passages.
                DatasetSearch.Open(folder, ct: ct).Dispose();
            }
            catch (EngineException e) { throw new UserFacingException(e.Message); }
            var datasetManifest = Core.Data.DatasetVersion.Load(folder);
            var passages = datasetManifest.Files.Single(f => f.Name == DatasetSearch.PassagesFileName);
            var indexFolder = DatasetSearch.IndexFolder(folder);
            var index = SearchIndex.Open(indexFolder);
            var indexManifest = index.Manifest;
            index.Dispose();
            var files = new List<ZipExtraFile>
            {
                Extra(Root + Core.Data.DatasetVersion.ManifestName, Path.Combine(folder, Core.Data.DatasetVersion.ManifestName)),
                new(Root + DatasetSearch.PassagesFileName, DatasetSearch.PassagesPath(folder), passages.Sha256),
                Extra(Root + SearchIndex.DefaultFolderName + "/" + SearchIndex.ManifestName, Path.Combine(indexFolder, SearchIndex.ManifestName)),
            };
            files.AddRange(indexManifest.Files.Select(f => new ZipExtraFile(Root + SearchIndex.DefaultFolderName + "/" + f.Name, Path.Combine(indexFolder, f.Name), f.Sha256)));
            return (IReadOnlyList<ZipExtraFile>)files;
        }, ct);

        // The two manifests have no recorded hash of their own: they are sent as they are now, and checked against that while sent.
        static ZipExtraFile Extra(string entry, string path) => new(entry, path, Core.Artifacts.ArtifactManifest.Sha256Of(path));
    }

    /// <summary>The version that writes answers: production when set, else the newest; null when the project has none.</summary>
    public async Task<AnswerModel?> AnswerModelAsync(int projectId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var production = await db.Aliases.Where(a => a.ProjectId == projectId && a.Name == ModelRegistry.Production).Select(a => (int?)a.ModelVersionId).FirstOrDefaultAsync(ct);
        if (production is { } id && await registry.FindAsync(id, ct) is { } version) return new AnswerModel(version, true);
        var newest = await db.ModelVersions.Include(v => v.Project).Where(v => v.ProjectId == projectId).OrderByDescending(v => v.Number).FirstOrDefaultAsync(ct);
        return newest is null ? null : new AnswerModel(newest, false);
    }

    /// <summary>Search, and with <paramref name="writeAnswer"/> an answer from the project's answering version: the JSON of the ask endpoint.</summary>
    public async Task<AskResponse> AskAsync(int projectId, string question, int top = 5, bool writeAnswer = false, int maxTokens = DocumentAnswerer.DefaultMaxNewTokens, CancellationToken ct = default)
    {
        var results = await SearchAsync(projectId, question, top, ct);
        if (!writeAnswer || results.NoGoodMatch) return AskResponse.From(results);
        var model = await AnswerModelAsync(projectId, ct)
            ?? throw new UserFacingException("This project has no trained model version to write an answer yet. The passages above are what the documents say; train and register a version to get written answers.");
        var generator = await generation.GetAsync(model.Version);
        try
        {
            var answer = await DocumentAnswerer.WriteAsync(generator, results.Question, [.. results.Hits.Select(h => h.Passage)],
                Math.Clamp(maxTokens, 1, ModelGeneration.MaxNewTokens), ct);
            return AskResponse.From(results, answer);
        }
        catch (EngineException e) { throw new UserFacingException(e.Message); }
    }

    /// <summary>An answer written token by token (for the playground); the citations are parsed by the caller once it is complete.</summary>
    public static async IAsyncEnumerable<GeneratedToken> StreamAnswerAsync(TextGenerator generator, string question, IReadOnlyList<Passage> passages,
        int maxTokens, Action<IReadOnlyList<Passage>> passagesRead, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var (prompt, read, newTokens) = DocumentAnswerer.FitPrompt(generator, question, passages, Math.Clamp(maxTokens, 1, ModelGeneration.MaxNewTokens));
        passagesRead(read);
        var settings = GenerationSettings.Greedy(newTokens) with { StopSequences = ["\nQuestion:", "\nPassages:"] };
        await foreach (var token in generator.GenerateAsync(prompt, settings, ct)) yield return token;
    }

    /// <summary>The passage with <paramref name="passageId"/> and its neighbours in the same file; null when the current data has no such passage.</summary>
    public async Task<PassageInContext?> ContextAsync(int projectId, string passageId, CancellationToken ct = default)
    {
        var dataset = await DatasetOfAsync(projectId, ct) ?? throw new UserFacingException(NoDatasetMessage);
        var index = await IndexOfAsync(dataset);
        var all = index.AllPassages();
        var at = -1;
        for (int i = 0; i < all.Count; i++) if (all[i].Id == passageId) { at = i; break; }
        if (at < 0) return null;
        var file = all[at].File;
        var before = new List<Passage>();
        for (int i = at - 1; i >= 0 && before.Count < ContextPassages && all[i].File == file; i--) before.Insert(0, all[i]);
        var after = new List<Passage>();
        for (int i = at + 1; i < all.Count && after.Count < ContextPassages && all[i].File == file; i++) after.Add(all[i]);
        return new PassageInContext(all[at], before, after, dataset.DatasetId);
    }

    public const string NoGoalTestsMessage =
        "This project has no goal tests with words to look for yet. In the project's Goals step, add questions with the words a good answer must contain, then check again.";

    /// <summary>The project's goal tests that have both a question and words to contain, as word goals (in the order they were written).</summary>
    public async Task<IReadOnlyList<WordGoal>> WordGoalsOfAsync(int projectId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (!await db.VisibleProjects().AnyAsync(p => p.Id == projectId, ct)) throw new ProjectNotFoundException(projectId);
        var tests = await db.GoalTests.Where(g => g.ProjectId == projectId).OrderBy(g => g.Id).ToListAsync(ct);
        return [.. tests.Where(g => !string.IsNullOrWhiteSpace(g.Prompt) && !string.IsNullOrWhiteSpace(g.MustContain))
            .Select(g => new WordGoal(g.Prompt.Trim(), g.MustContain.Trim()))];
    }

    /// <summary>The project's frozen dataset versions, newest first.</summary>
    public async Task<IReadOnlyList<DatasetVersionRecord>> DatasetVersionsOfAsync(int projectId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.DatasetVersions.Where(d => d.ProjectId == projectId && db.VisibleProjects().Any(p => p.Id == d.ProjectId))
            .OrderByDescending(d => d.Id).ToListAsync(ct);
    }

    /// <summary>The project's versions that can write answers (any but a sorting model's), newest first.</summary>
    public async Task<IReadOnlyList<ModelVersion>> AnsweringVersionsOfAsync(int projectId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var project = await db.VisibleProjects().SingleOrDefaultAsync(p => p.Id == projectId, ct) ?? throw new ProjectNotFoundException(projectId);
        if (project.UseCase == UseCase.SortAndRoute) return [];
        return await db.ModelVersions.Where(v => v.ProjectId == projectId).OrderByDescending(v => v.Number).ToListAsync(ct);
    }

    /// <summary>
    /// Runs the project's goal tests against one dataset version: recall at 1, 3 and 5 of the passages (a passage is
    /// right when its text holds every expected word), and with <paramref name="modelVersionId"/> an answer written
    /// by that version for each question, scored for the words and for citing a right passage.
    /// </summary>
    public async Task<WordGoalReport> CheckGoalTestsAsync(int projectId, int datasetVersionId, int? modelVersionId,
        IProgress<WordGoalProgress>? progress = null, CancellationToken ct = default)
    {
        var goals = await WordGoalsOfAsync(projectId, ct);
        if (goals.Count == 0) throw new UserFacingException(NoGoalTestsMessage);
        var dataset = (await DatasetVersionsOfAsync(projectId, ct)).FirstOrDefault(d => d.Id == datasetVersionId)
            ?? throw new UserFacingException("That data version is not one of this project's frozen versions any more. Reload the page and choose another.");
        var index = await IndexOfAsync(dataset);
        ModelVersion? model = null;
        if (modelVersionId is { } versionId)
        {
            model = await registry.FindAsync(versionId, ct);
            if (model is null || model.ProjectId != projectId)
                throw new UserFacingException("That model version is not one of this project's versions any more. Reload the page and choose another.");
        }

        RetrievalSearch search = (question, top) => index.Search(question, top);
        if (UseSemanticSearch && model is not null)
        {
            var (encoder, vectors) = await SemanticOfAsync(model, preparation.FolderOf(dataset), index);
            search = (question, top) => HybridSearch.Search(index, vectors, encoder, question, top);
        }
        AnswerEvaluation.AnswerWriter? write = null;
        if (model is not null)
        {
            var generator = await generation.GetAsync(model);
            write = (question, passages, token) => DocumentAnswerer.WriteAsync(generator, question, passages, DocumentAnswerer.DefaultMaxNewTokens, token);
        }
        try
        {
            // Off the caller's thread: searching and writing are CPU work, and the page keeps showing progress meanwhile.
            return await Task.Run(() => AnswerEvaluation.EvaluateWordGoalsAsync(search, goals, write, progress: progress, ct: ct), ct);
        }
        catch (EngineException e) { throw new UserFacingException(e.Message); }
    }

    private static string CheckQuestion(string? question)
    {
        question = question?.Trim() ?? "";
        if (question.Length == 0) throw new UserFacingException("Type a question first, for example 'How many days of holiday do we get?'.");
        if (question.Length > MaxQuestionCharacters)
            throw new UserFacingException($"The question is {question.Length:N0} characters long; ask it in at most {MaxQuestionCharacters:N0} characters.");
        return question;
    }

    public void Dispose()
    {
        foreach (var lazy in _indexes.Values)
            if (lazy.IsValueCreated) lazy.Value.Dispose();
        foreach (var lazy in _encoders.Values)
            if (lazy.IsValueCreated) lazy.Value.Dispose();
    }
}

/// <summary>A project number that names no project (the API answers 404).</summary>
public sealed class ProjectNotFoundException(int projectId) : Exception($"There is no project number {projectId}.");
