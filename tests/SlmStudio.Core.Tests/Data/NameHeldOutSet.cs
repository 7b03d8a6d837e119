namespace SlmStudio.Core.Tests.Data;

/// <summary>
/// Held-out sentences for person-name detection, written before the detector and never used to tune it. A name to be
/// found is marked [[like this]]; everything else must be left alone. About half the sentences have names; the others
/// hold look-alikes: products ("Apple Pay"), months ("May"), words that are also names ("Bill payment", "Will"),
/// places, companies and capitalised sentence starts and headings.
/// </summary>
public static class NameHeldOutSet
{
    public const string Sentences = """
        Please contact [[Maria Gonzalez]] at [EMAIL] if your badge does not work.
        Dear [[Thomas]], thank you for your application.
        Hi [[Priya]], the invoice is attached.
        Kind regards,\n[[Sarah O'Connor]]
        Best regards,\n[[Jan de Vries]]\nHR Business Partner
        Your request was approved by [[Markus Weber]] on Monday.
        Mr [[Dupont]] will join the meeting on Thursday.
        Dr. [[Ahmed Hassan]] leads the occupational health team.
        Ms [[Chen]] asked for a copy of the contract.
        [[Will Smith]] starred in the training video we show new hires.
        The onboarding session is run by [[Sofia Rossi]] and [[Lukas Müller]].
        Questions about payroll go to [[Anna Kowalska]].
        [[Laura]] from the Berlin office will send the slides.
        I spoke with [[David]] yesterday about the refund.
        Thanks, [[Olivia]]
        Cheers,\n[[Tom]]
        Sincerely,\n[[Fatima Al-Sayed]]
        Hello [[Kenji]], your parcel has been shipped.
        Please forward the form to [[Emma Johansson]] in accounting.
        The ticket was escalated by [[Carlos Fernández]].
        According to [[Isabelle Laurent]], the office reopens in June.
        Mrs [[Patel]] requested a parking space.
        Contact [[John Miller]] for building access.
        [[Giulia]] and [[Marco]] will cover the front desk this week.
        Signed: [[Peter Janssen]], Head of Finance
        Your manager, [[Rebecca Stone]], must approve the leave.
        Ask [[Mohammed]] about the new laptop policy.
        Hallo [[Jürgen]], danke für die schnelle Antwort.
        Bonjour [[Camille]], merci pour votre message.
        The customer, [[Elena Petrova]], called twice about the same order.
        Prof. [[Wagner]] will give the keynote.
        Regards,\n[[Daniel Kim]]
        Meeting notes taken by [[Hannah Schmidt]].
        Escalate to [[Michael Brown]] if the system is down for more than an hour.
        [[Ana Souza]] joined the support team in March.
        CC: [[Robert Taylor]], [[Linda Nguyen]]
        Please welcome [[Amir Rahimi]], our new data analyst.
        [[Sophie]] will be on parental leave until October.
        The complaint was handled by our colleague [[Pieter van Dijk]].
        Hi [[Alex]],\nthe VPN certificate expires tomorrow.
        Thank you, [[Nadia]]!
        Approved: [[Katarzyna Nowak]]
        [[Jack Wilson]] reported the broken printer.
        Dear Mr [[Schneider]], your contract has been renewed.
        Employee of the month: [[Grace Okafor]].
        Send your timesheet to [[Lucas Martin]] by Friday.
        [[Yuki Tanaka]] translated the handbook into Japanese.
        The trainer, [[Mark Evans]], will be late.
        Best,\n[[Chloé Bernard]]
        Talk to [[Ingrid]] in facilities about desk bookings.
        You can pay with Apple Pay or Google Pay at the canteen.
        The office is closed on 1 May for the public holiday.
        May we remind you that expense reports are due monthly.
        Bill payment is handled by the finance department.
        Will the new policy apply to part-time staff?
        Mark the box if you need a parking permit.
        Grace periods for late payments are 14 days.
        Our offices in Paris, Berlin and Madrid follow local holiday calendars.
        Microsoft Teams is the default tool for video calls.
        The Customer Service team answers within two working days.
        Annual Leave Policy
        Frank feedback is encouraged in every review.
        Dental Insurance and Vision Insurance are optional benefits.
        Amazon Web Services hosts our internal wiki.
        Please read the Code of Conduct before your first day.
        Jordan is one of the countries covered by the travel insurance.
        Sunday shifts are paid at 150% of the normal rate.
        The Health and Safety Officer inspects the kitchen every month.
        Visa and Mastercard are accepted; American Express is not.
        New employees receive a welcome pack on their first day.
        Victoria Station is a ten-minute walk from the London office.
        Rose gold laptops are not part of the standard equipment.
        The Employee Assistance Programme is free and confidential.
        Christmas Eve and New Year's Eve are half days.
        Submit the form via the HR Portal under My Requests.
        Hope this helps with your onboarding.
        Chase Bank and Wells Fargo are our payroll partners.
        Summer hours start in June and end in August.
        The Data Protection Officer can be reached through the privacy form.
        April deliveries were delayed by the strike.
        Overtime must be approved in advance by your line manager.
        Google Workspace accounts are created on the first day.
        Ford and Toyota vehicles are available in the car pool.
        Apple devices need the Company Portal app.
        The Rotterdam warehouse ships orders within 24 hours.
        Sales Director and Marketing Director roles are open.
        Guy ropes must be secured before the tent is used at the summer party.
        Reset your password on the Self Service page.
        Every team lead receives the Quarterly Business Review template.
        Page 12 of the Travel Policy lists the hotel limits.
        Max. 30 characters are allowed in the display name.
        Joy and pride in our work are part of our values.
        Salt Lake City is home to our second data centre.
        Dawn patrol shifts start at 5 am.
        Our values are Trust, Respect and Excellence.
        Lincoln Street car park is reserved for visitors.
        The Wellbeing Allowance covers gym memberships.
        Patrick Street and Main Street are closed for roadworks.
        Washington State employees follow different leave rules.
        """;
}
