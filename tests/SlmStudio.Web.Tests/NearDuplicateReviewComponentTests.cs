using Bunit;
using MudBlazor.Services;
using SlmStudio.Core.Data;
using SlmStudio.Web.Components.Pages.Projects;

namespace SlmStudio.Web.Tests;

/// <summary>The review shows near-duplicate pairs side by side with a keep/remove choice that reaches the page.</summary>
public sealed class NearDuplicateReviewComponentTests : BunitContext, IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    // MudBlazor's radios register a service that can only be disposed asynchronously.
    public new async Task DisposeAsync() => await base.DisposeAsync();

    public NearDuplicateReviewComponentTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
    }

    private static PreparationReview ReviewOf(DatasetSettings settings)
    {
        var lines = new List<TextRecord>
        {
            new("Employees may work from home on Tuesdays and Thursdays after agreeing the schedule with their manager.", 1),
            new("Dental insurance: the company pays 80% of the monthly premium for employees and 50% for their dependants.", 3),
            new("Vision insurance: the company pays 70% of the monthly premium for employees and 40% for their dependants.", 5),
            new("Employees may work from home on Tuesdays and Thursdays after agreeing the schedule with thier manager.", 7),
        };
        var doc = new ExtractedDocument("handbook.txt", DocumentKind.Text, lines, [], DocumentStats.Of(lines)) { SourceSha256 = "ab", SourceBytes = 100 };
        return DatasetBuilder.Review([doc], settings);
    }

    [Fact]
    public void A_near_duplicate_pair_is_shown_kept_and_the_remove_choice_is_passed_on()
    {
        var settings = new DatasetSettings { Task = DatasetTask.Text, RedactPersonalData = false };
        var review = ReviewOf(settings);
        var pair = Assert.Single(review.NearPairs); // Dental and Vision are different facts, not a pair
        (string Id, bool Remove)? chosen = null;
        var cut = Render<ReviewSummary>(p => p.Add(x => x.Review, review).Add(x => x.Settings, settings)
            .Add(x => x.OnNearChoice, c => chosen = c));

        var shown = cut.Find($".near-pair[data-pair='{pair.Id}']");
        Assert.Equal("false", shown.GetAttribute("data-removed"));
        Assert.Contains("handbook.txt, line 1", shown.TextContent);
        Assert.Contains("handbook.txt, line 7", shown.TextContent);
        Assert.Contains("Both are kept unless you remove the second one", cut.Find("#near-duplicates-intro").TextContent);
        Assert.Contains("No exact copies", cut.Find("#review-duplicates").TextContent);

        cut.FindAll(".near-pair-choice input[type=radio]")[1].Click();
        Assert.Equal((pair.Id, true), chosen);

        // The review redone with that choice shows the pair removed.
        var again = Render<ReviewSummary>(p => p.Add(x => x.Review, ReviewOf(settings with { RemoveNearDuplicates = [pair.Id] })).Add(x => x.Settings, settings));
        Assert.Equal("true", again.Find(".near-pair").GetAttribute("data-removed"));
        Assert.Contains("(removed)", again.Find(".near-pair").TextContent);
        Assert.Contains("1 removed by your choice", again.Find("#near-duplicates-intro").TextContent);
    }
}
