using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Data;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>
/// The data review's near-duplicate pairs: both records are kept unless the user removes the second, and that choice
/// reaches the frozen dataset version (what is removed is not trained on) and is repeated by the next review.
/// </summary>
public class NearDuplicateChoiceTests
{
    private const string Remote = "Employees may work from home on Tuesdays and Thursdays after agreeing the schedule with their manager in writing.";
    private const string RemoteTypo = "Employees may work from home on Tuesdays and Thursdays after agreeing the schedule with thier manager in writing.";
    private const string Dental = "Dental insurance: the company pays 80% of the monthly premium for employees and 50% for their dependants. Claims go to the Dental plan administrator within 90 days.";
    private const string Vision = "Vision insurance: the company pays 70% of the monthly premium for employees and 40% for their dependants. Claims go to the Vision plan administrator within 60 days.";
    private const string Lunch = "The canteen serves a hot lunch between noon and two o'clock, and the coffee machines on every floor are free to use.";

    private static string Handbook => string.Join("\n\n",
        DataDocuments.Prose("holidays", 6), Remote, Dental, Lunch, DataDocuments.Prose("expenses", 6), Vision, RemoteTypo, Lunch, DataDocuments.Prose("laptops", 6));

    private static async Task<string> TrainingTextAsync(DataPreparation preparation, Data.DatasetVersionRecord record)
    {
        var folder = preparation.FolderOf(record);
        return await File.ReadAllTextAsync(Path.Combine(folder, "train.txt")) + await File.ReadAllTextAsync(Path.Combine(folder, "val.txt"));
    }

    [Fact]
    public async Task Near_duplicates_are_kept_until_the_user_removes_one_and_the_choice_reaches_the_frozen_version()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        var outcome = await host.Get<DataUploads>().SaveAsync(project.Id, "handbook.txt", new MemoryStream(Encoding.UTF8.GetBytes(Handbook)), default);
        Assert.NotNull(outcome.File);
        var preparation = host.Get<DataPreparation>();
        await preparation.ExtractAsync(project.Id, default);

        // Default: the exact copy goes, the typo pair is offered with both kept, and Dental/Vision are no pair at all.
        var first = await preparation.ReviewAsync(project.Id);
        Assert.Equal(1, first.Review.ExactDuplicatesRemoved);
        Assert.Equal(0, first.Review.NearDuplicatesRemoved);
        var pair = Assert.Single(first.Review.NearPairs);
        Assert.False(pair.Removed);
        Assert.Contains("thier", pair.SecondText);
        Assert.Null(first.Settings.RemoveNearDuplicates);
        var keptBoth = await preparation.FreezeAsync(first, "tester");
        var keptText = await TrainingTextAsync(preparation, keptBoth);
        Assert.Contains(RemoteTypo, keptText);
        Assert.Contains(Dental, keptText);
        Assert.Contains(Vision, keptText);

        // The user removes the second of the pair: it is not trained on, and the frozen version records why.
        var chosen = await preparation.ReviewAsync(project.Id, new HashSet<string> { pair.Id, "a-pair-that-no-longer-exists" });
        Assert.Equal(1, chosen.Review.NearDuplicatesRemoved);
        Assert.True(Assert.Single(chosen.Review.NearPairs).Removed);
        Assert.Equal([pair.Id], chosen.Settings.RemoveNearDuplicates);
        var removed = await preparation.FreezeAsync(chosen, "tester");
        Assert.NotEqual(keptBoth.DatasetId, removed.DatasetId);
        var removedText = await TrainingTextAsync(preparation, removed);
        Assert.DoesNotContain(RemoteTypo, removedText);
        Assert.Contains(Remote, removedText);
        Assert.Contains(Vision, removedText);
        Assert.Equal(1, removed.NearDuplicatesRemoved);
        Assert.Equal([pair.Id], JsonSerializer.Deserialize<DatasetSettings>(removed.SettingsJson, DatasetVersion.Json)!.RemoveNearDuplicates);
        Assert.Equal([pair.Id], DatasetVersion.Load(preparation.FolderOf(removed)).Settings.RemoveNearDuplicates);

        // A later review (a reload of the page, or training started without the page) repeats the choice.
        var again = await preparation.ReviewAsync(project.Id);
        Assert.True(Assert.Single(again.Review.NearPairs).Removed);
        Assert.Equal(removed.DatasetId, (await preparation.FreezeAsync(again, "tester")).DatasetId);
        await using var db = await host.DbAsync();
        Assert.Equal(2, await db.DatasetVersions.CountAsync(d => d.ProjectId == project.Id));
    }
}
