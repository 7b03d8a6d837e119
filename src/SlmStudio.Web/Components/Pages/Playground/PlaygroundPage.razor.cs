using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core;
using SlmStudio.Core.Inference;
using SlmStudio.Web.Data;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Components.Pages.Playground;

/// <summary>
/// Generates text with one registered version, or two side by side, streaming token by token; and "Ask our
/// documents" (search over the project's frozen data, with an optional written answer). Opens on a production version.
/// </summary>
public sealed partial class PlaygroundPage : IDisposable
{
    [SupplyParameterFromQuery(Name = "version")] public int? Version { get; set; }
    [SupplyParameterFromQuery(Name = "ask")] public int? AskProject { get; set; }
    [SupplyParameterFromQuery(Name = "q")] public string? AskQuestion { get; set; }

    private List<VersionChoice>? _versions;
    private List<VersionChoice> _classifierVersions = [];
    private int? _classifierOpening;
    /// <summary>The index of the "Sort texts" tab.</summary>
    private const int SortTab = 2;
    private List<VersionChoice> _chatVersions = [];
    private int? _chatOpening;
    /// <summary>The index of the "Chat" tab.</summary>
    private const int ChatTab = 3;
    private Dictionary<int, int> _projectOf = [];
    private readonly PlaygroundState _left = new();
    private readonly PlaygroundState _right = new();
    private string _prompt = "";
    private Creativity _creativity = Creativity.Medium;
    private double _temperature, _topP;
    private int _topK;
    private int _maxTokens = 80;
    private bool _stopAtSentence = true;
    private bool _colour = true;
    private bool _compare;
    private int _tab;
    private int? _askProjectId;
    private List<string> _suggestions = [];
    private CancellationTokenSource? _cts;

    [Inject] private ModelRegistry Registry { get; set; } = default!;
    [Inject] private ModelGeneration Generation { get; set; } = default!;
    [Inject] private ClassifierReports Reports { get; set; } = default!;
    [Inject] private ChatReports ChatReports { get; set; } = default!;
    [Inject] private IDbContextFactory<StudioDbContext> DbFactory { get; set; } = default!;
    [Inject] private ILogger<PlaygroundPage> Logger { get; set; } = default!;

    protected override async Task OnInitializedAsync()
    {
        SetCreativity(_creativity);
        await using var db = await DbFactory.CreateDbContextAsync();
        var all = await db.ModelVersions.Include(v => v.Project).OrderByDescending(v => v.Id).ToListAsync();
        var production = (await db.Aliases.Where(a => a.Name == ModelRegistry.Production).Select(a => a.ModelVersionId).ToListAsync()).ToHashSet();
        // Classifiers sort texts on their own tab; the writing tab offers only models that write.
        var classifiers = all.Where(Reports.IsClassifier).ToList();
        // Models that answer questions chat on their own tab too (continuing their text would show the chat template).
        var chats = all.Except(classifiers).Where(ChatReports.IsChat).ToList();
        var versions = all.Except(classifiers).Except(chats).ToList();
        _chatVersions = PlaygroundChoices.Label(chats, production);
        if (chats.Count > 0) _chatOpening = PlaygroundChoices.Opening(chats, production, Version);
        if (Version is { } asked && chats.Any(v => v.Id == asked)) _tab = ChatTab;
        _classifierVersions = PlaygroundChoices.Label(classifiers, production);
        if (classifiers.Count > 0) _classifierOpening = PlaygroundChoices.Opening(classifiers, production, Version);
        if (Version is { } requested && classifiers.Any(v => v.Id == requested)) _tab = SortTab;
        _versions = PlaygroundChoices.Label(versions, production);
        _projectOf = versions.ToDictionary(v => v.Id, v => v.ProjectId);
        if (AskProject is { } ask) { _askProjectId = ask; _tab = 1; }
        if (_versions.Count == 0)
        {
            _askProjectId ??= await db.Projects.Where(p => p.DatasetVersionId != null).Select(p => (int?)p.Id).FirstOrDefaultAsync();
            return;
        }
        _left.VersionId = PlaygroundChoices.Opening(versions, production, Version);
        _right.VersionId = PlaygroundChoices.CompareWith(versions, _left.VersionId);
        _askProjectId ??= _projectOf[_left.VersionId];
        await LoadSuggestionsAsync();
    }

    private async Task LeftVersionChangedAsync(int id)
    {
        _left.VersionId = id;
        if (_right.VersionId == id && _versions is not null)
            _right.VersionId = _versions.FirstOrDefault(v => v.Id != id)?.Id ?? id;
        await LoadSuggestionsAsync();
    }

    private async Task LoadSuggestionsAsync()
    {
        if (!_projectOf.TryGetValue(_left.VersionId, out var projectId)) { _suggestions = []; return; }
        await using var db = await DbFactory.CreateDbContextAsync();
        _suggestions = await db.Set<GoalTest>().Where(g => g.ProjectId == projectId).OrderBy(g => g.Id).Select(g => g.Prompt).Take(6).ToListAsync();
    }

    private void SetCreativity(Creativity creativity)
    {
        _creativity = creativity;
        (_temperature, _topK, _topP) = CreativitySettings.For(creativity);
    }

    private async Task GenerateAsync()
    {
        _cts?.Dispose();
        _cts = new CancellationTokenSource();
        // Clamped here as well as by the slider: the browser's value is only a request.
        var settings = ModelGeneration.Clamp(new GenerationSettings(_maxTokens, _temperature, _topK, _topP));
        var tasks = new List<Task> { RunAsync(_left, settings, _cts.Token) };
        if (_compare) tasks.Add(RunAsync(_right, settings, _cts.Token));
        await Task.WhenAll(tasks);
    }

    private async Task RunAsync(PlaygroundState state, GenerationSettings settings, CancellationToken ct)
    {
        state.Start(_prompt);
        StateHasChanged();
        var lastRender = DateTime.UtcNow;
        try
        {
            var version = await Registry.FindAsync(state.VersionId, ct);
            if (version is null)
            {
                state.Error = "This model version no longer exists. Reload the page and choose another one.";
                return;
            }
            state.Loading = true;
            var generator = await Generation.GetAsync(version);
            state.Loading = false;
            if (ModelGeneration.PromptProblem(generator, _prompt) is { } problem)
            {
                state.Error = problem;
                return;
            }
            settings = settings with { MaxNewTokens = ModelGeneration.RoomAfter(generator, _prompt, settings.MaxNewTokens) };
            using var turn = await Generation.EnterAsync(version.Id, others =>
            {
                state.WaitingFor = others;
                _ = InvokeAsync(StateHasChanged);
            }, ct);
            state.WaitingFor = null;
            await foreach (var token in generator.GenerateAsync(_prompt, settings, ct))
            {
                state.Add(token.Text, token.Probability);
                if (_stopAtSentence && PlaygroundState.EndsSentence(state.Text)) break;
                if (DateTime.UtcNow - lastRender > TimeSpan.FromMilliseconds(50))
                {
                    lastRender = DateTime.UtcNow;
                    StateHasChanged();
                    await Task.Yield();
                }
            }
        }
        catch (OperationCanceledException) { state.Stopped = true; }
        catch (GenerationBusyException e) { state.Error = e.Message; }
        catch (EngineException e)
        {
            state.Error = e.Message;
        }
        catch (Exception e)
        {
            Logger.LogError(e, "Generation with version {VersionId} failed", state.VersionId);
            state.Error = "The model could not answer. Try again; if it keeps failing, ask your administrator to check the server log.";
        }
        finally
        {
            state.Running = false;
            state.Loading = false;
            state.WaitingFor = null;
            StateHasChanged();
        }
    }

    private void Stop() => _cts?.Cancel();

    public void Dispose()
    {
        _cts?.Cancel();
        _cts?.Dispose();
    }
}

/// <summary>Which versions the playground offers and opens on.</summary>
public static class PlaygroundChoices
{
    /// <summary>"Project — version N", with "(production)" on production versions; newest first.</summary>
    public static List<VersionChoice> Label(IEnumerable<ModelVersion> newestFirst, IReadOnlySet<int> production) =>
        [.. newestFirst.Select(v => new VersionChoice(v.Id, $"{v.Project?.Name} — version {v.Number}{(production.Contains(v.Id) ? " (production)" : "")}"))];

    /// <summary>The version asked for in the address; else the newest production version; else the newest.</summary>
    public static int Opening(IReadOnlyList<ModelVersion> newestFirst, IReadOnlySet<int> production, int? requested) =>
        requested is { } id && newestFirst.Any(v => v.Id == id) ? id
        : newestFirst.FirstOrDefault(v => production.Contains(v.Id))?.Id ?? newestFirst[0].Id;

    /// <summary>A different version to compare with: the same project's previous one when there is one, else any other.</summary>
    public static int CompareWith(IReadOnlyList<ModelVersion> newestFirst, int left)
    {
        var project = newestFirst.First(v => v.Id == left).ProjectId;
        return newestFirst.FirstOrDefault(v => v.Id != left && v.ProjectId == project)?.Id
            ?? newestFirst.FirstOrDefault(v => v.Id != left)?.Id ?? left;
    }
}
