using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Forms;
using MudBlazor;
using SlmStudio.Core.Data;
using SlmStudio.Web.Components.Shared;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Components.Pages.Projects;

/// <summary>The wizard's data step: uploads, their extraction in the background, the data switches, the review and
/// freezing the reviewed data as the dataset version training uses.</summary>
public sealed partial class DataStep : IDisposable
{
    public const int MaxFilesAtOnce = 500;

    [Parameter, EditorRequired] public int ProjectId { get; set; }
    [Parameter] public EventCallback OnContinue { get; set; }

    [Inject] private DataUploads Uploads { get; set; } = default!;
    [Inject] private DataPreparation Preparation { get; set; } = default!;
    [Inject] private DataNotifier Notifier { get; set; } = default!;
    [Inject] private ILogger<DataStep> Logger { get; set; } = default!;

    private List<DataFile>? _files;
    private DataStatistics? _stats;
    private readonly List<DataProblem> _uploadProblems = [];
    private readonly HashSet<int> _openPreview = [];
    private readonly Dictionary<int, TabularPreview> _openMapping = [];
    private string? _freezeStage;
    private bool _uploading, _reviewing, _freezing, _redact = true, _dedup = true;
    private double _uploadPercent;
    private string _uploadText = "";
    private DataProgress? _extracting;
    private DataReview? _review;
    /// <summary>The near-duplicate pairs the user chose to remove; null until the first review (which repeats the last frozen choice).</summary>
    private HashSet<string>? _removeNear;
    private bool _applyingChoice;
    private IReadOnlyList<FileLabelReview> _labelReviews = [];
    private IReadOnlyList<FileInstructionReview> _instructionReviews = [];

    /// <summary>Every file is read, and there is enough to review: enough text to write like, or any labelled rows to sort by.</summary>
    private bool CanReview => _stats is { WaitingFiles: 0 } s && (_useCase is UseCase.SortAndRoute or UseCase.AnswerQuestions ? s.UsableFiles > 0 : s.Enough);
    private DatasetVersionRecord? _frozen;
    private string? _reviewError;
    private UseCase _useCase;
    private IDisposable? _subscription;
    private int _subscribedTo;

    protected override async Task OnParametersSetAsync()
    {
        if (_subscribedTo != ProjectId)
        {
            _subscription?.Dispose();
            _subscription = Notifier.Subscribe(ProjectId, OnUpdateAsync);
            _subscribedTo = ProjectId;
        }
        _extracting = Preparation.Running(ProjectId);
        await ReloadAsync();
        // Files left waiting (the portal restarted while reading them) are picked up again.
        if (_extracting is null && _stats is { WaitingFiles: > 0 }) Preparation.StartExtraction(ProjectId);
    }

    private async Task ReloadAsync()
    {
        _files = await Uploads.FilesAsync(ProjectId);
        var options = await Preparation.OptionsAsync(ProjectId);
        (_redact, _dedup, _useCase, _frozen) = (options.RedactPersonalData, options.RemoveDuplicates, options.UseCase, options.Frozen);
        _stats = await Uploads.StatisticsAsync(ProjectId);
    }

    private Task OnUpdateAsync(DataUpdate update) => InvokeAsync(async () =>
    {
        _extracting = update.Finished ? null : update.Progress;
        if (update.FilesChanged) await ReloadAsync();
        StateHasChanged();
    });

    private async Task UploadAsync(IReadOnlyList<IBrowserFile>? files)
    {
        if (files is null || files.Count == 0) return;
        _uploading = true;
        _uploadProblems.Clear();
        InvalidateReview();
        for (int i = 0; i < files.Count; i++)
        {
            var file = files[i];
            _uploadPercent = 100.0 * i / files.Count;
            _uploadText = $"Uploading {i + 1} of {files.Count}: {SafeFileName.ForDisplay(file.Name)}";
            StateHasChanged();
            try
            {
                if (file.Size > Uploads.MaxBytes)
                {
                    _uploadProblems.Add(new DataProblem(SafeFileName.ForDisplay(file.Name), null, ProblemSeverity.Error,
                        $"The file is {Format.Bytes(file.Size)}, more than the limit of {Format.Bytes(Uploads.MaxBytes)}, so it was not stored.",
                        "Split it into smaller files, or ask your administrator to raise the upload limit."));
                    continue;
                }
                await using var stream = file.OpenReadStream(Uploads.MaxBytes);
                var outcome = await Uploads.SaveAsync(ProjectId, file.Name, stream, CancellationToken.None);
                if (outcome.Problem is not null) _uploadProblems.Add(outcome.Problem);
            }
            catch (IOException e)
            {
                Logger.LogWarning(e, "Upload of {FileName} failed", SafeFileName.ForDisplay(file.Name));
                _uploadProblems.Add(new DataProblem(SafeFileName.ForDisplay(file.Name), null, ProblemSeverity.Error,
                    "The file could not be received completely, so nothing of it was kept.", "Check your connection and upload it again."));
            }
        }
        _uploading = false;
        Preparation.StartExtraction(ProjectId);
        await ReloadAsync();
    }

    private async Task SampleAsync()
    {
        _uploading = true;
        _uploadPercent = 0;
        _uploadText = "Loading the sample documents…";
        InvalidateReview();
        StateHasChanged();
        await Uploads.AddSampleDataAsync(ProjectId, CancellationToken.None);
        _uploading = false;
        Preparation.StartExtraction(ProjectId);
        await ReloadAsync();
    }

    private static void Toggle(HashSet<int> set, int id) { if (!set.Remove(id)) set.Add(id); }

    private async Task OpenMappingAsync(DataFile f)
    {
        if (_openMapping.Remove(f.Id)) return;
        _openMapping[f.Id] = await Task.Run(() => Uploads.PreviewTable(f));
    }

    private async Task ApplyMappingAsync(DataFile f, ColumnMapping mapping)
    {
        _openMapping.Remove(f.Id);
        InvalidateReview();
        await Uploads.SetMappingAsync(f.Id, mapping);
        Preparation.StartExtraction(ProjectId);
        await ReloadAsync();
    }

    private async Task DeleteAsync(DataFile f)
    {
        InvalidateReview();
        await Uploads.DeleteAsync(f.Id);
        _openPreview.Remove(f.Id);
        _openMapping.Remove(f.Id);
        await ReloadAsync();
    }

    private async Task SetOptionAsync(bool? redact = null, bool? dedup = null)
    {
        _redact = redact ?? _redact;
        _dedup = dedup ?? _dedup;
        await Preparation.SetOptionsAsync(ProjectId, _redact, _dedup);
        if (_review is not null) await ReviewAsync();
    }

    private void InvalidateReview()
    {
        _review = null;
        _reviewError = null;
    }

    private async Task ReviewAsync()
    {
        _reviewing = true;
        _reviewError = null;
        StateHasChanged();
        try
        {
            _review = await Preparation.ReviewAsync(ProjectId, _removeNear);
            _removeNear = (_review.Settings.RemoveNearDuplicates ?? []).ToHashSet(StringComparer.Ordinal);
            _labelReviews = _useCase == UseCase.SortAndRoute && _files is { } files ? await Task.Run(() => LabelReviews.Of(Uploads, files)) : [];
            _instructionReviews = _useCase == UseCase.AnswerQuestions && _files is { } pairFiles ? await Task.Run(() => InstructionReviews.Of(Uploads, pairFiles)) : [];
        }
        catch (UserFacingException e) { _review = null; _reviewError = e.Message; }
        finally { _reviewing = false; }
    }

    /// <summary>Redoes the review with the pair's second record removed or kept: what follows may change (a record
    /// that is gone cannot be matched), and freezing writes exactly the review on screen.</summary>
    private async Task ChooseNearDuplicateAsync((string PairId, bool Remove) choice)
    {
        _removeNear ??= [];
        if (choice.Remove) _removeNear.Add(choice.PairId); else _removeNear.Remove(choice.PairId);
        // The review stays on screen (with its choices disabled) while it is redone, so the page does not jump.
        _applyingChoice = true;
        try { _review = await Preparation.ReviewAsync(ProjectId, _removeNear); }
        catch (UserFacingException e) { _review = null; _reviewError = e.Message; }
        finally { _applyingChoice = false; }
    }

    private async Task ContinueAsync()
    {
        if (_review is null) return;
        _freezing = true;
        try
        {
            await Preparation.FreezeAsync(_review, SlmStudio.Web.Security.StudioUserContext.Name, progress: new Progress<DataProgress>(p => { _freezeStage = FreezeStages.Describe(p); InvokeAsync(StateHasChanged); }));
            await OnContinue.InvokeAsync();
        }
        catch (UserFacingException e) { _reviewError = e.Message; }
        finally { _freezing = false; _freezeStage = null; }
    }

    /// <summary>The earlier upload with the same content, when this one is a second copy.</summary>
    private DataFile? CopyOf(DataFile f) => _files?.FirstOrDefault(o => o.Id < f.Id && o.Sha256 == f.Sha256 && f.Sha256.Length > 0);

    private static string StatusText(DataFile f, DataFile? copyOf) => f.Status switch
    {
        DataFileStatus.Waiting => "waiting to be read",
        DataFileStatus.Failed => "not usable",
        _ when copyOf is not null => $"same content as {SafeFileName.ForDisplay(copyOf.OriginalName)} — used once",
        _ => "ready",
    };

    private static Color StatusColor(DataFile f) => f.Status switch
    {
        DataFileStatus.Waiting => Color.Default,
        DataFileStatus.Failed => Color.Error,
        _ => Color.Success,
    };

    private static string LabelText(DataFile f)
    {
        var labels = DataUploads.LabelCounts(f);
        return labels.Count == 0 ? "" : " · labels: " + string.Join(", ", labels.Select(kv => $"{kv.Key} {kv.Value:N0}"));
    }

    public void Dispose() => _subscription?.Dispose();
}
